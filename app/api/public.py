"""Citizen-facing routes, no login: the lookup API and the `/tra-cuu` page (with its assets).

The secret travels in the request body only: a query string naming it is refused, the page never
puts it in a URL or echoes it back, and every answer is `Cache-Control: no-store`.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.responses import FileResponse, HTMLResponse, Response

from app.api.deps import ClockDep, SessionFactoryDep, SettingsDep
from app.errors import NotFound, RateLimited
from app.web import citizen_lookup, citizen_page, ratelimit
from app.web.citizen_lookup import LookupFailed, LookupIn, SecretInUrl
from app.web.citizen_view import PublicDossierOut


def _count_rejected(request: Request) -> None:
    app = request.app
    citizen_lookup.count_rejected(app.state.sessionmaker, client=ratelimit.client_of(request, app.state.settings),
                                  now=app.state.clock.now(), settings=app.state.settings)


class CountedRoute(APIRoute):
    """A public route whose requests refused by validation (422) count against the address limit
    too: malformed lookups are no free way around it (429 once it is exceeded)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def counted(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError:
                await run_in_threadpool(_count_rejected, request)
                raise

        return counted


router = APIRouter(tags=["tra cứu công khai"], route_class=CountedRoute)

PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                                "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
}


def _refuse_secret_in_url(request: Request) -> None:
    if any(name.lower() in SecretInUrl.NAMES for name in request.query_params):
        raise SecretInUrl()


@router.post("/api/v1/public/lookup", response_model=PublicDossierOut,
             summary="Tra cứu tình trạng hồ sơ bằng mã hồ sơ và mã tra cứu (không cần đăng nhập)",
             responses={404: {"description": "Sai mã hồ sơ hoặc mã tra cứu (cùng một câu trả lời)"},
                        429: {"description": "Tra cứu quá nhiều lần; xem header Retry-After"}})
def lookup(data: LookupIn, request: Request, response: Response, factory: SessionFactoryDep, clock: ClockDep,
           settings: SettingsDep) -> PublicDossierOut:
    _refuse_secret_in_url(request)
    response.headers["Cache-Control"] = "no-store"
    return citizen_lookup.lookup(factory, code=data.code, secret=data.secret,
                                 client=ratelimit.client_of(request, settings), now=clock.now(), settings=settings)


@router.get("/tra-cuu", response_class=HTMLResponse, include_in_schema=False)
def lookup_page(request: Request) -> HTMLResponse:
    # A receipt's QR code may carry the dossier code; the secret is never read from the URL.
    code = request.query_params.get("code", "")[:64]
    return HTMLResponse(citizen_page.render_page(code=code), headers=PAGE_HEADERS)


@router.post("/tra-cuu", response_class=HTMLResponse, include_in_schema=False)
def lookup_page_submit(request: Request, factory: SessionFactoryDep, clock: ClockDep, settings: SettingsDep,
                       code: Annotated[str, Form(max_length=200)] = "",
                       secret: Annotated[str, Form(max_length=200)] = "") -> HTMLResponse:
    """The same lookup for browsers without JavaScript: the form posts here, the page comes back."""
    try:
        _refuse_secret_in_url(request)
    except SecretInUrl as exc:
        return HTMLResponse(citizen_page.render_page(code=code, error=exc.message), status_code=400,
                            headers=PAGE_HEADERS)
    errors = citizen_page.validate_form(code, secret)
    if errors:
        try:
            _count_rejected(request)
        except RateLimited as exc:
            return HTMLResponse(citizen_page.render_page(code=code, error=exc.message), status_code=429,
                                headers={**PAGE_HEADERS, **(exc.headers or {})})
        return HTMLResponse(citizen_page.render_page(code=code, field_errors=errors,
                                                     error="Vui lòng kiểm tra các ô được đánh dấu."),
                            status_code=422, headers=PAGE_HEADERS)
    try:
        result = citizen_lookup.lookup(factory, code=code, secret=secret,
                                       client=ratelimit.client_of(request, settings), now=clock.now(), settings=settings)
    except LookupFailed as exc:
        return HTMLResponse(citizen_page.render_page(code=code, error=exc.message), status_code=404,
                            headers=PAGE_HEADERS)
    except RateLimited as exc:
        return HTMLResponse(citizen_page.render_page(code=code, error=exc.message), status_code=429,
                            headers={**PAGE_HEADERS, **(exc.headers or {})})
    return HTMLResponse(citizen_page.render_page(code=result.code, result=result), headers=PAGE_HEADERS)


@router.get("/tra-cuu/static/{name}", include_in_schema=False)
def static_asset(name: Annotated[str, Path(max_length=32)]) -> FileResponse:
    media_type = citizen_page.STATIC_FILES.get(name)
    if media_type is None:
        raise NotFound(code="asset_not_found")
    return FileResponse(citizen_page.STATIC_DIR / name, media_type=media_type,
                        headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"})
