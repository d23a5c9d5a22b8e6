"""Documents as PDF: forms rendered by WeasyPrint, results signed (PAdES, pyHanko) and verified."""
