"""Signed electronic documents of a dossier: the result (or the reasoned refusal after appraisal)
rendered from a template when no PDF was uploaded, and forms 03, 04, 05 when issued; each signed
with the agency's certificate (PAdES) in the caller's transaction. No HTTP here.

Without a certificate (MOTCUA_SIGNING_PKCS12 unset) nothing is signed electronically and these
functions return None: the paper flow is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session

from app.auth.principal import Principal
from app.esign import signing
from app.esign.pdf import html_to_pdf
from app.esign.store import KINDS, save_signed
from app.models import Agency, Dossier, Procedure, SignedDocument, User
from app.settings import Settings
from app.signatures import signature_title
from app.web import form_models, forms
from app.web.render import render

RESULT = form_models.FormSpec("KQ", "result", "Kết quả giải quyết hồ sơ", "result.html")


@dataclass(frozen=True)
class ResultDocument:
    head: form_models.Letterhead
    dossier: form_models.DossierHead
    agency_name: str
    heading: str
    refusal: bool
    reason: str | None
    document_number: str | None
    signer_title: str
    signer_name: str | None
    spec: form_models.FormSpec = RESULT


def _file_name(dossier: Dossier, kind: str) -> str:
    return f"{kind.replace('_', '-')}-{dossier.code}.pdf"


def _sign_and_save(session: Session, dossier: Dossier, kind: str, pdf: bytes, *, signer: User | None,
                   title_lines: str, agency: Agency, now: datetime, settings: Settings) -> SignedDocument:
    name = signer.full_name if signer else agency.name
    title = " – ".join(line for line in title_lines.splitlines() if line.strip())
    signed = signing.sign_pdf(pdf, settings, signer_name=name, signer_title=title, dossier_code=dossier.code,
                              kind_label=KINDS[kind], location=agency.name)
    return save_signed(session, settings, dossier_id=dossier.id, kind=kind, file_name=_file_name(dossier, kind),  # type: ignore[arg-type]
                       content=signed, signer_name=name, signer_title=title,
                       signed_by_id=signer.id if signer else None, signed_at=now)


def sign_result(session: Session, dossier: Dossier, procedure: Procedure, signer: User | None, *, now: datetime,
                settings: Settings) -> SignedDocument | None:
    """At the signing step: render the result (or the reasoned refusal) and sign it."""
    if not signing.signing_enabled(settings):
        return None
    agency = session.get(Agency, dossier.agency_id)
    assert agency is not None
    tz = ZoneInfo(settings.timezone)
    refusal = dossier.result_kind == "refusal"
    title_lines = signature_title(agency, signer.title if signer else None)
    view = ResultDocument(
        head=form_models.Letterhead(agency.name, None, now.astimezone(tz)),
        dossier=form_models.dossier_head(dossier, procedure, tz),
        agency_name=agency.name, heading="Văn bản trả lời" if refusal else "Thông báo kết quả giải quyết hồ sơ",
        refusal=refusal, reason=dossier.closing_reason if refusal else None,
        document_number=dossier.result_reference, signer_title=title_lines,
        signer_name=signer.full_name if signer else None)
    pdf = html_to_pdf(render(view), title=f"{view.heading} – {dossier.code}")
    return _sign_and_save(session, dossier, "result_refusal" if refusal else "result", pdf, signer=signer,
                          title_lines=title_lines, agency=agency, now=now, settings=settings)


FORM_BUILDERS = {"refusal": forms.refusal, "apology": forms.apology, "stop": forms.stop_notice}


def sign_form(session: Session, dossier: Dossier, kind: str, principal: Principal, *, now: datetime,
              settings: Settings) -> SignedDocument | None:
    """Form 03 (refusal at reception), 04 (apology, once issued) or 05 (stop notice) as a signed PDF,
    rendered from the same template as the printed form."""
    if not signing.signing_enabled(settings):
        return None
    view = FORM_BUILDERS[kind](session, dossier.code, principal, now=now, settings=settings)
    pdf = html_to_pdf(render(view), title=f"Mẫu số {view.spec.number} – {dossier.code}")
    agency_id = dossier.receiving_agency_id if kind == "refusal" else dossier.agency_id
    agency = session.get(Agency, agency_id)
    assert agency is not None
    if kind == "refusal":
        title_lines = "Bộ phận Một cửa\nNgười tiếp nhận hồ sơ"
    else:
        title_lines = getattr(view, "signer_title", None) or signature_title(agency, principal.user.title)
    return _sign_and_save(session, dossier, kind, pdf, signer=principal.user, title_lines=title_lines,
                          agency=agency, now=now, settings=settings)
