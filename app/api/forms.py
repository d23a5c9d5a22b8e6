"""Printable forms (Circular 03/2025/TT-VPCP, Mẫu số 01–07) as A4 HTML pages to print from the browser,
and the same pages as PDF (`Accept: application/pdf`, or the `.pdf` suffix on the form's path)."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from app.api.deps import ClockDep, SessionDep, SettingsDep
from app.api.dossiers import CodePath
from app.auth.deps import Staff
from app.esign.pdf import html_to_pdf
from app.web import forms
from app.web.form_models import DOSSIER_FORMS
from app.web.render import render

router = APIRouter(tags=["biểu mẫu in"])

# The pages carry personal data: never cached, never scripted, never sniffed as anything but HTML.
PRINT_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
                 "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'self'"}
HTML_PAGE = {200: {"content": {"text/html": {}, "application/pdf": {}},
                   "description": "Trang HTML khổ A4 để in, hoặc PDF khi Accept: application/pdf"},
             409: {"description": "Biểu mẫu không áp dụng cho trạng thái hiện tại của hồ sơ"}}

DossierForm = StrEnum("DossierForm", {spec.slug.replace("-", "_"): spec.slug for spec in DOSSIER_FORMS})


class FormOut(BaseModel):
    number: str = Field(description="Số mẫu theo Phụ lục I Thông tư 03/2025/TT-VPCP")
    slug: str
    title: str
    available: bool
    reason: str | None = Field(description="Vì sao chưa in được (khi available = false)")
    path: str


class ReceiptPrintIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    lookup_secret: str = Field(title="Mã tra cứu", min_length=8, max_length=16, description="Mã tra cứu của hồ sơ, nhận khi tiếp nhận")


PDF_PAGE = {200: {"content": {"application/pdf": {}}, "description": "Biểu mẫu PDF khổ A4 (phông chữ nhúng)"},
            409: HTML_PAGE[409]}


def wants_pdf(request: Request) -> bool:
    """`Accept: application/pdf` asks for the PDF (a browser's `text/html,...,*/*` keeps the page)."""
    accept = request.headers.get("accept", "")
    return any(part.split(";")[0].strip().lower() == "application/pdf" for part in accept.split(","))


def _page(form: object, *, pdf: bool = False) -> Response:
    html = render(form)
    if not pdf:
        return HTMLResponse(html, headers=PRINT_HEADERS)
    spec = form.spec  # type: ignore[attr-defined]
    name = f"mau-{spec.number}-{spec.slug}.pdf"
    return Response(html_to_pdf(html, title=f"Mẫu số {spec.number} – {spec.title}"), media_type="application/pdf",
                    headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
                             "Content-Disposition": f'inline; filename="{name}"'})


@router.get("/api/v1/dossiers/{code}/forms", response_model=list[FormOut],
            summary="Các biểu mẫu in được của hồ sơ")
def list_forms(code: CodePath, session: SessionDep, principal: Staff) -> list[FormOut]:
    return [FormOut(number=a.spec.number, slug=a.spec.slug, title=a.spec.title, available=a.reason is None,
                    reason=a.reason, path=f"/api/v1/dossiers/{code}/forms/{a.spec.slug}")
            for a in forms.available_forms(session, code, principal)]


@router.post("/api/v1/dossiers/{code}/forms/receipt", response_class=HTMLResponse, responses=HTML_PAGE,
             summary="In giấy tiếp nhận (mẫu 01) kèm mã tra cứu trên liên giao người nộp")
def print_receipt_with_secret(code: CodePath, data: ReceiptPrintIn, session: SessionDep, principal: Staff,
                              clock: ClockDep, settings: SettingsDep, request: Request) -> Response:
    return _page(forms.receipt(session, code, principal, now=clock.now(), settings=settings,
                               lookup_secret=data.lookup_secret), pdf=wants_pdf(request))


@router.post("/api/v1/dossiers/{code}/forms/receipt.pdf", response_class=Response, responses=PDF_PAGE,
             summary="Giấy tiếp nhận (mẫu 01) kèm mã tra cứu, dạng PDF")
def print_receipt_with_secret_pdf(code: CodePath, data: ReceiptPrintIn, session: SessionDep, principal: Staff,
                                  clock: ClockDep, settings: SettingsDep) -> Response:
    return _page(forms.receipt(session, code, principal, now=clock.now(), settings=settings,
                               lookup_secret=data.lookup_secret), pdf=True)


# Registered before "/forms/{form}": "receipt.pdf" is not a form's name.
@router.get("/api/v1/dossiers/{code}/forms/{form}.pdf", response_class=Response, responses=PDF_PAGE,
            summary="Biểu mẫu của hồ sơ (mẫu 01–06) dạng PDF")
def print_dossier_form_pdf(code: CodePath, form: DossierForm, session: SessionDep, principal: Staff,
                           clock: ClockDep, settings: SettingsDep) -> Response:
    build = forms.DOSSIER_BUILDERS[form.value]
    return _page(build(session, code, principal, now=clock.now(), settings=settings), pdf=True)


@router.get("/api/v1/dossiers/{code}/forms/{form}", response_class=HTMLResponse, responses=HTML_PAGE,
            summary="In biểu mẫu của hồ sơ (mẫu 01–06)")
def print_dossier_form(code: CodePath, form: DossierForm, session: SessionDep, principal: Staff, clock: ClockDep,
                       settings: SettingsDep, request: Request) -> Response:
    build = forms.DOSSIER_BUILDERS[form.value]
    return _page(build(session, code, principal, now=clock.now(), settings=settings), pdf=wants_pdf(request))


@router.get("/api/v1/forms/tracking-book.pdf", response_class=Response, responses=PDF_PAGE,
            summary="Sổ theo dõi hồ sơ (mẫu 07) dạng PDF")
def print_tracking_book_pdf(
    session: SessionDep, principal: Staff, clock: ClockDep, settings: SettingsDep,
    date_from: Annotated[date, Query(alias="from", ge=date(1990, 1, 1), le=date(2100, 12, 31),
                                     description="Từ ngày tiếp nhận (YYYY-MM-DD)")],
    date_to: Annotated[date, Query(alias="to", ge=date(1990, 1, 1), le=date(2100, 12, 31),
                                   description="Đến hết ngày (YYYY-MM-DD)")],
) -> Response:
    return _page(forms.tracking_book(session, principal, date_from=date_from, date_to=date_to, now=clock.now(),
                                     settings=settings), pdf=True)


@router.get("/api/v1/forms/tracking-book", response_class=HTMLResponse, responses=HTML_PAGE,
            summary="In sổ theo dõi hồ sơ (mẫu 07) theo khoảng ngày tiếp nhận")
def print_tracking_book(
    request: Request, session: SessionDep, principal: Staff, clock: ClockDep, settings: SettingsDep,
    date_from: Annotated[date, Query(alias="from", ge=date(1990, 1, 1), le=date(2100, 12, 31),
                                     description="Từ ngày tiếp nhận (YYYY-MM-DD)")],
    date_to: Annotated[date, Query(alias="to", ge=date(1990, 1, 1), le=date(2100, 12, 31),
                                   description="Đến hết ngày (YYYY-MM-DD)")],
) -> Response:
    return _page(forms.tracking_book(session, principal, date_from=date_from, date_to=date_to, now=clock.now(),
                                     settings=settings), pdf=wants_pdf(request))
