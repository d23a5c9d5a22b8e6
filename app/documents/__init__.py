"""Dossier files: validation by content, versions per component, the digitisation record, reuse
of an applicant's earlier files (issue 13, items 2–4). The bytes live in app/storage."""
