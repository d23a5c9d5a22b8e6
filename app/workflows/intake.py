"""Intake: a dossier received at the desk (or from the post office) or submitted online on the
portal, in the caller's transaction with its event and outbox rows (app/effects.py). Also the
records intake shares with later actions: a supplement request (form 02), a shipment, the number
and signer of a closing form (03, 05)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from app import effects, parties, reference
from app.auth.principal import Principal
from app.catalog.service import get_procedure
from app.effects import Context
from app.errors import Conflict, Invalid, NotFound, NotPermitted
from app.esign import service as signed_documents
from app.models import (Channel, ClockState, Dossier, DossierStatus, OnlineLevel, Role, Shipment,
                        SupplementRequest, User)
from app.signatures import next_document_number
from app.sla import service as sla
from app.workflows import codes, rules
from app.workflows.schemas import IntakeIn, OnlineSubmissionIn

S = DossierStatus


def receive(session: Session, data: IntakeIn, ctx: Context) -> tuple[Dossier, str]:
    """Receive a dossier at the desk (or from the post office). Returns it and its lookup secret."""
    principal = ctx.principal
    assert principal is not None, "intake is done by a person"
    procedure = get_procedure(session, data.procedure_code, active_only=True)
    if procedure.agency_id != principal.scope_agency_id \
            and principal.scope_agency_id not in parties.receiving_point_ids(session, procedure):
        raise NotFound(f"Không có thủ tục hành chính mã {data.procedure_code}.", code="procedure_not_found")
    if data.channel == Channel.online:
        raise Invalid("Hồ sơ trực tuyến được nhận từ Cổng Dịch vụ công, không nhập tại quầy.",
                      code="online_via_portal")
    if data.channel == Channel.postal and not procedure.postal_receipt_allowed:
        raise Invalid("Thủ tục này không tiếp nhận hồ sơ qua dịch vụ bưu chính công ích.",
                      code="postal_receipt_not_allowed")
    if rules.postal_only(principal) and data.channel != Channel.postal:
        raise NotPermitted("Nhân viên bưu chính chỉ tiếp nhận hồ sơ gửi qua bưu chính.", code="postal_only")
    rules.check_return_method(procedure, data.return_method)
    received_by = _receiving_officer(session, data, principal)
    documents = [doc.model_dump() for doc in data.documents]
    missing = rules.missing_documents(procedure, documents)
    if data.decision == "receive" and missing:
        raise Invalid("Hồ sơ chưa đủ thành phần: cần yêu cầu bổ sung hoặc từ chối tiếp nhận.",
                      code="documents_incomplete", detail={"missing": missing})
    if data.decision == "request_supplement" and not (data.missing_items or missing):
        raise Invalid("Yêu cầu bổ sung cần liệt kê giấy tờ còn thiếu.", code="supplement_items_required")

    agency = reference.agency(session, procedure.agency_id)
    assert agency is not None and agency.id is not None
    cal = sla.calendar_for(session, agency.id, ctx.settings)
    secret = codes.new_lookup_secret()
    applicant = data.applicant
    dossier = Dossier(
        code="", agency_id=agency.id, receiving_agency_id=principal.scope_agency_id, procedure_id=procedure.id,
        channel=data.channel, online_level=data.online_level or OnlineLevel.none, applicant_type=applicant.type,
        applicant_name=applicant.full_name, applicant_id_number=applicant.id_number, applicant_phone=applicant.phone,
        applicant_email=applicant.email, applicant_address=applicant.address, summary=data.summary,
        documents=documents, return_method=data.return_method, note=data.note, status=S.received,
        created_by_id=principal.id, submitted_at=ctx.now, lookup_secret_hash=codes.hash_secret(secret),
        assigned_division_id=procedure.division_id, created_at=ctx.now, updated_at=ctx.now,
        received_by_id=received_by.id)
    if data.postal is not None:
        dossier.postal_handed_over_at = data.postal.handed_over_at or ctx.now
        dossier.submitted_at = dossier.postal_handed_over_at
    if data.decision == "receive":
        sla.start_clock(session, dossier, procedure, cal, now=ctx.now, settings=ctx.settings)
        kind, extra, note, event_data = "received", None, data.note, None
    elif data.decision == "request_supplement":
        dossier.status = S.awaiting_supplement
        dossier.resume_status = S.received
        items = data.missing_items or missing
        kind, extra, note = "supplement_requested", "; ".join(items), data.note
        event_data = {"decision": "request_supplement", "items": items}
    else:
        dossier.status = S.refused
        dossier.refused_at = ctx.now
        dossier.closing_reason = data.reason
        dossier.clock_state = ClockState.stopped
        sign_closing(session, dossier, "refusal", ctx, signer_id=received_by.id)
        kind, extra, note, event_data = "refused", data.reason, data.reason, {"decision": "refuse"}

    if procedure.division_id is not None:
        reference.agency(session, procedure.division_id)  # read now, found in the session by effects.sync_portal
    # The day's number comes last: its row lock is held until commit (that keeps codes gap-free),
    # so everything computed or read above (secret hash, due dates, agencies) runs outside it.
    local_day = ctx.now.astimezone(ZoneInfo(ctx.settings.timezone)).date()
    # The code carries the receiving point's identifier (the competent agency's, when it receives).
    point = agency if principal.scope_agency_id == agency.id else reference.agency(session, principal.scope_agency_id)
    assert point is not None and point.id is not None
    dossier.code = codes.format_code(point.code, local_day, codes.next_sequence(session, point.id, local_day))
    session.add(dossier)
    session.flush()
    if parties.is_interagency(procedure):  # the receiving point's part starts; the department sees it throughout
        parties.start_part(session, dossier, procedure, point.id, ctx.now)
        parties.join(session, dossier, procedure, agency.id, ctx.now)
    if data.postal is not None:
        shipment = add_shipment(session, dossier, direction="inbound", tracking_number=data.postal.tracking_number,
                                carrier=data.postal.carrier, fee=data.postal.fee, status="delivered",
                                handed_over_at=dossier.postal_handed_over_at, delivered_at=ctx.now, now=ctx.now)
        if principal.id != received_by.id:  # the postal clerk carried it; the agency's officer received it
            shipment.note = f"Nhân viên bưu chính giao: {principal.user.full_name}"
    if data.decision == "request_supplement":
        add_supplement_request(session, dossier, event_data["items"], data.note, ctx)  # type: ignore[index]
    if data.decision == "refuse":  # form 03, signed as issued (a rare path: rendering under the day's lock is fine)
        signed = signed_documents.sign_form(session, dossier, "refusal", principal, now=ctx.now, settings=ctx.settings)
        if signed is not None:
            event_data = {**event_data, "signed_document": signed.sha256}
    effects.record(session, dossier, procedure, ctx, action="receive", from_status=None, from_step=None, note=note,
                   data=event_data, full_sync=True, is_new=True, notification=(kind, extra))
    return dossier, secret


def _receiving_officer(session: Session, data: IntakeIn, principal: Principal) -> User:
    """The agency officer who receives the dossier and signs form 01. A postal clerk only carries
    a package: the desk officer who took it from the post is named (`received_by`)."""
    if not rules.postal_only(principal):
        if data.received_by and data.received_by != principal.user.username:
            raise Invalid("Cán bộ Bộ phận Một cửa tự ký giấy tiếp nhận của hồ sơ mình tiếp nhận.",
                          code="received_by_not_allowed")
        return principal.user
    if not data.received_by:
        raise Invalid("Hồ sơ qua bưu chính cần ghi cán bộ Bộ phận Một cửa đã nhận bưu gửi (received_by).",
                      code="received_by_required")
    officer = session.exec(select(User).where(User.username == data.received_by)).first()
    if officer is None or not officer.is_active or Role.desk not in officer.roles:
        raise Invalid(f"Không có cán bộ Bộ phận Một cửa {data.received_by}.", code="received_by_not_found")
    agency = reference.agency(session, officer.agency_id)
    from app.auth.principal import scope_agency_of

    if agency is None or scope_agency_of(agency) != principal.scope_agency_id:
        raise Invalid(f"Cán bộ {data.received_by} không thuộc cơ quan tiếp nhận.", code="received_by_not_found")
    return officer


def submit_online(session: Session, data: OnlineSubmissionIn, ctx: Context) -> tuple[Dossier, str | None]:
    """Create a dossier submitted online on the portal, in status `submitted` (clock not started).

    Idempotent on the portal's id: a submission pulled twice returns the existing dossier and no
    secret. The secret of a new one goes to the applicant in the notification.
    """
    existing = session.exec(select(Dossier).where(Dossier.portal_id == data.portal_id)).first()
    if existing is not None:
        return existing, None
    procedure = get_procedure(session, data.procedure_code, active_only=True)
    agency = reference.agency(session, procedure.agency_id)
    assert agency is not None and agency.id is not None
    if agency.code != data.agency_code:
        raise Invalid(f"Thủ tục {procedure.code} không thuộc thẩm quyền của {data.agency_code}.",
                      code="wrong_agency")
    if procedure.online_level == OnlineLevel.none:
        raise Invalid(f"Thủ tục {procedure.code} không cung cấp dịch vụ công trực tuyến.", code="not_online")
    local_day = ctx.now.astimezone(ZoneInfo(ctx.settings.timezone)).date()
    number = codes.next_sequence(session, agency.id, local_day)
    secret = codes.new_lookup_secret()
    applicant = data.applicant
    dossier = Dossier(
        code=codes.format_code(agency.code, local_day, number), agency_id=agency.id, receiving_agency_id=agency.id,
        procedure_id=procedure.id, channel=Channel.online, online_level=data.online_level,
        applicant_type=applicant.type, applicant_name=applicant.full_name, applicant_id_number=applicant.id_number,
        applicant_phone=applicant.phone, applicant_email=applicant.email, applicant_address=applicant.address,
        summary=data.summary, documents=[d.model_dump() for d in data.documents], return_method=data.return_method,
        status=S.submitted, submitted_at=data.submitted_at, lookup_secret_hash=codes.hash_secret(secret),
        portal_id=data.portal_id, assigned_division_id=procedure.division_id, created_at=ctx.now,
        updated_at=ctx.now)
    # The desk checks an online submission within one working day (alert and reports otherwise).
    cal = sla.calendar_for(session, agency.id, ctx.settings)
    dossier.check_due_at = cal.add_working_minutes(data.submitted_at, cal.minutes_per_day)
    sla.refresh_next_alert(dossier)
    session.add(dossier)
    session.flush()
    # The portal holds the submission, not yet a dossier under our code: the first message creates it.
    effects.record(session, dossier, procedure, ctx, action="submit", from_status=None, from_step=None,
                   data={"portal_id": data.portal_id}, full_sync=True, is_new=True,
                   notification=("submitted", secret))
    return dossier, secret



def add_supplement_request(session: Session, dossier: Dossier, items: list[str], note: str | None,
                           ctx: Context) -> None:
    stage, agency_id = rules.supplement_stage(dossier, session)
    session.add(SupplementRequest(dossier_id=dossier.id, requested_at=ctx.now, requested_by_id=ctx.principal.id,
                                  items=items, note=note, due_before=dossier.due_at, stage=stage, agency_id=agency_id))
    dossier.supplement_count += 1


def add_shipment(session: Session, dossier: Dossier, *, direction: str, tracking_number: str, carrier: str,
                 fee: int, status: str, now: datetime, handed_over_at: datetime | None = None,
                 delivered_at: datetime | None = None, address: str | None = None) -> Shipment:
    clash = session.exec(select(Shipment).where(Shipment.carrier == carrier,
                                                Shipment.tracking_number == tracking_number)).first()
    if clash is not None:
        raise Conflict(f"Số hiệu bưu gửi {tracking_number} đã được dùng.", code="tracking_number_exists")
    shipment = Shipment(dossier_id=dossier.id, direction=direction, carrier=carrier, tracking_number=tracking_number,
                        fee=fee, status=status, handed_over_at=handed_over_at, delivered_at=delivered_at,
                        address=address, created_at=now, updated_at=now)
    session.add(shipment)
    return shipment



def sign_closing(session: Session, dossier: Dossier, kind: str, ctx: Context, *,
                 signer_id: int | None = None) -> None:
    """Forms 03 and 05 carry a number from the agency's register and their signer (the caller, or
    `signer_id`: the desk officer who took a postal package signs its form 03, not the clerk)."""
    agency = reference.agency(session, dossier.receiving_agency_id if kind == "refusal" else dossier.agency_id)
    assert agency is not None
    dossier.closing_document_number = next_document_number(session, agency, kind, now=ctx.now,
                                                           tz=ctx.settings.timezone)
    dossier.closing_signed_by_id = signer_id or (ctx.principal.id if ctx.principal else None)
