"""The lookup address printed on form 01, and its QR code (segno): it opens the citizen page
/tra-cuu with the dossier code filled in. Never the lookup secret: the QR is printed on both copies
and a photo of it must not open the dossier; the citizen types the secret (mã tra cứu) by hand."""

from __future__ import annotations

from urllib.parse import urlencode

import segno
from markupsafe import Markup

from app.settings import Settings


def lookup_address(settings: Settings) -> str:
    """The citizen page, as printed: `MOTCUA_PUBLIC_URL` + /tra-cuu."""
    return settings.public_url.rstrip("/") + "/tra-cuu"


def lookup_link(settings: Settings, code: str) -> str:
    """What the QR code holds: the citizen page with the dossier code (and nothing else) filled in."""
    return f"{lookup_address(settings)}?{urlencode({'code': code})}"


def qr_svg(data: str) -> Markup:
    """An inline SVG QR code (error correction M, 0.75 mm modules: about 25 mm wide), safe to embed in HTML:
    inline SVG needs no image source, so the print pages' CSP (default-src 'none') allows it."""
    code = segno.make(data, error="m", micro=False)
    return Markup(code.svg_inline(scale=0.75, border=2, unit="mm", svgclass="qr", omitsize=False))
