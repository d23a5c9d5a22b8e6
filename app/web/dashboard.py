"""The leaders' dashboard (/bang-dieu-khien): a server-rendered shell and its own small script.

The page holds no data: the script logs in through POST /api/v1/auth/token (token kept in
sessionStorage) and reads the JSON reports. Charts are SVG drawn by app/web/static/dashboard.js;
nothing is loaded from another host (the machines are offline).
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from app.errors import NotFound

WEB_DIR = Path(__file__).resolve().parent
STATIC_DIR = WEB_DIR / "static"
STATIC_FILES = {"dashboard.css": "text/css; charset=utf-8", "dashboard.js": "text/javascript; charset=utf-8"}
PAGE_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
                               "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
}

router = APIRouter(include_in_schema=False)


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(loader=FileSystemLoader(WEB_DIR / "templates" / "dashboard"), undefined=StrictUndefined,
                       autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)


@lru_cache(maxsize=4)
def asset_version(name: str) -> str:
    return hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest()[:10]


def render_page() -> str:
    return _environment().get_template("index.html").render(
        css=f"/bang-dieu-khien/static/dashboard.css?v={asset_version('dashboard.css')}",
        js=f"/bang-dieu-khien/static/dashboard.js?v={asset_version('dashboard.js')}")


@router.get("/bang-dieu-khien", response_class=HTMLResponse)
def dashboard_page() -> HTMLResponse:
    return HTMLResponse(render_page(), headers=PAGE_HEADERS)


@router.get("/bang-dieu-khien/static/{name}")
def dashboard_asset(name: Annotated[str, PathParam(max_length=32)]) -> FileResponse:
    media_type = STATIC_FILES.get(name)
    if media_type is None:
        raise NotFound("Không có tệp này.", code="asset_not_found")
    return FileResponse(STATIC_DIR / name, media_type=media_type,
                        headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"})
