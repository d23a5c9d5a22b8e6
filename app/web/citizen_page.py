"""The citizen pages' rendering (Jinja2, server-side, no FastAPI import): /tra-cuu with the lookup
form and its result, /xac-thuc, their static files and the no-JavaScript form's field check.
The feedback and payment pages render from the same templates and assets."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, select_autoescape

from app.web.citizen_view import PublicDossierOut, datetime_text

WEB_DIR = Path(__file__).resolve().parent
STATIC_DIR = WEB_DIR / "static"
STATIC_FILES = {"citizen.css": "text/css; charset=utf-8", "citizen.js": "text/javascript; charset=utf-8",
                "feedback.js": "text/javascript; charset=utf-8"}


@lru_cache
def environment() -> Environment:
    """The templates of every citizen page: lookup, verification, feedback and rating, payment."""
    return Environment(loader=FileSystemLoader(str(WEB_DIR / "templates")),
                       autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)


@lru_cache
def asset_version(name: str) -> str:
    """Content hash of a static file, appended to its URL so browsers refetch after a deploy."""
    return hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest()[:12]


def render_page(*, result: PublicDossierOut | None = None, error: str | None = None,
                field_errors: dict[str, str] | None = None, code: str = "", api_url: str = "/api/v1/public/lookup",
                static_url: str = "/tra-cuu/static") -> str:
    context: dict[str, Any] = {
        "result": result, "error": error, "field_errors": field_errors or {}, "code": code,
        "api_url": api_url, "css_url": f"{static_url}/citizen.css?v={asset_version('citizen.css')}",
        "js_url": f"{static_url}/citizen.js?v={asset_version('citizen.js')}",
        "feedback_js_url": f"{static_url}/feedback.js?v={asset_version('feedback.js')}",
    }
    return environment().get_template("citizen/lookup.html").render(**context)


def render_verify_page(*, result: Any = None, error: str | None = None, timezone: str = "Asia/Ho_Chi_Minh",
                       static_url: str = "/tra-cuu/static") -> str:
    """/xac-thuc: a plain multipart form (no JavaScript) and the verdict on the same page."""
    tz = ZoneInfo(timezone)
    context: dict[str, Any] = {
        "result": result, "error": error, "css_url": f"{static_url}/citizen.css?v={asset_version('citizen.css')}",
        "signed_text": datetime_text(result.signed_at, tz) if result is not None and result.signed_at else None,
    }
    return environment().get_template("citizen/verify.html").render(**context)


def validate_form(code: str, secret: str) -> dict[str, str]:
    """Field errors of the no-JavaScript form, keyed by field name (empty when valid)."""
    errors = {}
    if not code.strip():
        errors["code"] = "Vui lòng nhập mã hồ sơ."
    elif len(code.strip()) > 64:
        errors["code"] = "Mã hồ sơ quá dài; vui lòng kiểm tra lại."
    if not secret.strip():
        errors["secret"] = "Vui lòng nhập mã tra cứu."
    elif len(secret.strip()) > 32:
        errors["secret"] = "Mã tra cứu quá dài; vui lòng kiểm tra lại."
    return errors
