"""HTML to PDF with WeasyPrint, for the printable forms and the rendered results.

The fonts are Debian's DejaVu (package fonts-dejavu-core), found through fontconfig and embedded
(subset) in every PDF, so Vietnamese diacritics print the same on any printer. The page size and
margins come from each template's `@page` rule (A4, 20/15/20/30 mm as Decree 30/2020 asks).
Nothing is fetched while rendering: the pages are self-contained, and any URL is refused.
"""

from __future__ import annotations

from functools import lru_cache

# The HTML pages ask for Times New Roman (what an office PC has); a server has DejaVu Serif.
PDF_CSS = """
body, table, td, th, h1, h2, p { font-family: "DejaVu Serif", serif !important; }
body { font-size: 12pt; }
/* DejaVu Serif is wider than Times: the national motto stays on one line */
table.letterhead { font-size: 10.5pt; }
"""


def _refuse_urls(url: str, *args: object, **kwargs: object) -> dict:
    raise ValueError(f"URL không được tải khi dựng PDF: {url[:80]}")


@lru_cache(maxsize=1)
def _stylesheet():  # noqa: ANN202
    from weasyprint import CSS  # imported on first use: loading Pango costs ~0.3 s at start-up
    return CSS(string=PDF_CSS)


def html_to_pdf(html: str, *, title: str | None = None) -> bytes:
    """The PDF of one self-contained HTML page (A4 from its @page rule, fonts embedded)."""
    from weasyprint import HTML
    document = HTML(string=html, url_fetcher=_refuse_urls).render(stylesheets=[_stylesheet()])
    if title:
        document.metadata.title = title
    document.metadata.authors = ["motcua"]
    return document.write_pdf()
