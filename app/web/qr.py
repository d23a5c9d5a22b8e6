"""QR codes (segno): the lookup address printed on form 01, and the payment page's platform URL.

Form 01's opens the citizen page /tra-cuu with the dossier code filled in. Never the lookup secret:
the QR is printed on both copies and a photo of it must not open the dossier; the citizen types the
secret (mã tra cứu) by hand."""

from __future__ import annotations

from urllib.parse import urlencode

import segno
from markupsafe import Markup

from app.settings import Settings


def lookup_address(settings: Settings) -> str:
    """The citizen page, as printed: `MOTCUA_PUBLIC_BASE_URL` + /tra-cuu."""
    return settings.public_address() + "/tra-cuu"


def lookup_link(settings: Settings, code: str) -> str:
    """What the QR code holds: the citizen page with the dossier code (and nothing else) filled in."""
    return f"{lookup_address(settings)}?{urlencode({'code': code})}"


def qr_svg(data: str) -> Markup:
    """An inline SVG QR code (error correction M, 0.75 mm modules: about 25 mm wide), safe to embed in HTML:
    inline SVG needs no image source, so the print pages' CSP (default-src 'none') allows it."""
    code = segno.make(data, error="m", micro=False)
    return Markup(code.svg_inline(scale=0.75, border=2, unit="mm", svgclass="qr", omitsize=False))


def qr_svg_data_uri(url: str) -> str:
    """A URL (the payment platform's page) as a QR code, an SVG data URI for an <img> (the payment
    page's CSP allows data:)."""
    return segno.make(url, error="m").svg_data_uri(scale=4, border=2)
