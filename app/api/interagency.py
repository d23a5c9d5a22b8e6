"""Inter-agency (liên thông) dossiers: hand-overs between agencies (form 06 rows naming both), each
agency's part (its share of the limit, the time it spent, whether it made the dossier late), the
agency's "late, caused here / elsewhere" report and the province report (centre, provincial reporter).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlmodel import select

from app import parties
from app.access import get_dossier
from app.api.deps import ClockDep, SessionDep, SettingsDep
from app.api.idempotency import fingerprint, run_idempotent
from app.api.reports import XLSX, FromQ, PeriodQ, ToQ, download
from app.auth.deps import Reporter, Staff, require_roles
from app.auth.principal import Principal
from app.effects import Context
from app.errors import NotPermitted
from app.fields import LocalDateTime
from app.models import Agency, Dossier, DossierAgency, Role, User
from app.reports import aggregates, export, queries
from app.reports.periods import Period, parse_period
from app.reports.schemas import AgencyOut, Counts, PeriodicReport, PeriodicRow, PeriodOut
from app.workflows import interagency
from app.workflows.schemas import DossierOut

router = APIRouter(prefix="/api/v1", tags=["liên thông"])
CodePath = Annotated[str, Path(max_length=64, description="Mã hồ sơ")]
HandoverId = Annotated[int, Path(ge=1, le=2**31 - 1)]
# The receiving agency's office (its desk / văn thư) or its leaders accept or return a hand-over.
Office = Annotated[Principal, Depends(require_roles(Role.desk, Role.leader))]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=128)]


class HandoverOut(BaseModel):
    id: int
    from_agency: AgencyOut
    to_agency: AgencyOut
    from_step: int | None
    to_step: int
    sent_at: LocalDateTime
    sent_by: str | None
    documents: list[dict]  # type: ignore[type-arg]
    status: str = Field(description="pending | accepted | returned")
    decided_at: LocalDateTime | None
    decided_by: str | None
    reason: str | None


class HandoverDecisionIn(BaseModel):
    version: int | None = Field(default=None, ge=1, le=2**31 - 1)
    assignee: str | None = Field(default=None, max_length=64, description="Giao bước cho cán bộ (khi tiếp nhận)")
    note: str | None = Field(default=None, max_length=2000)
    reason: str | None = Field(default=None, max_length=2000, description="Lý do trả lại (bắt buộc khi trả lại)")


class PartOut(BaseModel):
    agency: AgencyOut
    kind: str
    since: LocalDateTime
    budget_minutes: int = Field(description="Thời gian được phân bổ (phút làm việc)")
    spent_minutes: int = Field(description="Thời gian cơ quan đã giữ hồ sơ (phút làm việc, theo lịch của cơ quan)")
    holds_now: bool
    overran: bool
    caused_late: bool = Field(description="Hồ sơ quá hạn do cơ quan này")


def _period(settings, period: str | None, date_from: date | None, date_to: date | None) -> Period:  # noqa: ANN001
    return parse_period(period, settings.timezone, from_=date_from, to=date_to)


def _agencies(session, ids: set[int]) -> dict[int, Agency]:  # noqa: ANN001
    return {a.id: a for a in session.exec(select(Agency).where(Agency.id.in_(ids))).all()} if ids else {}  # type: ignore[union-attr,misc]


def _names(session, ids: set[int | None]) -> dict[int, str]:  # noqa: ANN001
    ids = {i for i in ids if i}
    return {u.id: u.full_name for u in session.exec(select(User).where(User.id.in_(ids))).all()} if ids else {}  # type: ignore[union-attr,misc]


def _out(agency: Agency) -> AgencyOut:
    return AgencyOut(code=agency.code, name=agency.name)


@router.get("/dossiers/{code}/handovers", response_model=list[HandoverOut],
            summary="Bàn giao giữa các cơ quan của hồ sơ liên thông (các dòng phiếu kiểm soát, mẫu 06)")
def handovers(code: CodePath, session: SessionDep, principal: Staff) -> list[HandoverOut]:
    rows = interagency.handovers_of(session, code, principal)
    agencies = _agencies(session, {r.from_agency_id for r in rows} | {r.to_agency_id for r in rows})
    users = _names(session, {r.sent_by_id for r in rows} | {r.decided_by_id for r in rows})
    return [HandoverOut(id=r.id, from_agency=_out(agencies[r.from_agency_id]), to_agency=_out(agencies[r.to_agency_id]),
                        from_step=r.from_step, to_step=r.to_step, sent_at=r.sent_at, sent_by=users.get(r.sent_by_id),
                        documents=r.documents, status=r.status, decided_at=r.decided_at,
                        decided_by=users.get(r.decided_by_id), reason=r.reason) for r in rows]


def _decide(request: Request, code: str, handover_id: int, data: HandoverDecisionIn, session, principal: Principal,  # noqa: ANN001
            clock, settings, accept: bool, key: str | None):  # noqa: ANN001, ANN202
    from app.api.dossiers import present

    now = clock.now()
    ctx = Context(principal, now, settings)

    def work():  # noqa: ANN202
        if accept:
            dossier = interagency.accept_handover(session, code, handover_id, ctx, expected_version=data.version,
                                              assignee=data.assignee, note=data.note)
        else:
            dossier = interagency.return_handover(session, code, handover_id, ctx, expected_version=data.version,
                                              reason=data.reason)
        return present(session, dossier, principal, now, settings)

    return run_idempotent(session, scope=f"user:{principal.id}", key=key, now=now,
                          status_code=200, request_hash=fingerprint("POST", request.url.path, {"body": data}),
                          work=work)


@router.post("/dossiers/{code}/handovers/{handover_id}/accept", response_model=DossierOut,
             summary="Cơ quan nhận bàn giao tiếp nhận hồ sơ liên thông (văn phòng hoặc lãnh đạo)")
def accept(code: CodePath, handover_id: HandoverId, data: HandoverDecisionIn, request: Request, session: SessionDep,
           principal: Office, clock: ClockDep, settings: SettingsDep,
           idempotency_key: IdempotencyKey = None):  # noqa: ANN201
    return _decide(request, code, handover_id, data, session, principal, clock, settings, accept=True,
                   key=idempotency_key)


@router.post("/dossiers/{code}/handovers/{handover_id}/return", response_model=DossierOut,
             summary="Cơ quan nhận bàn giao trả lại hồ sơ liên thông, nêu lý do")
def return_(code: CodePath, handover_id: HandoverId, data: HandoverDecisionIn, request: Request, session: SessionDep,
            principal: Office, clock: ClockDep, settings: SettingsDep,
            idempotency_key: IdempotencyKey = None):  # noqa: ANN201
    return _decide(request, code, handover_id, data, session, principal, clock, settings, accept=False,
                   key=idempotency_key)


@router.get("/dossiers/{code}/agencies", response_model=list[PartOut],
            summary="Phần việc của từng cơ quan trong hồ sơ liên thông: thời gian phân bổ, đã dùng, quá hạn do ai")
def agency_parts(code: CodePath, session: SessionDep, principal: Staff) -> list[PartOut]:
    dossier = get_dossier(session, code, principal)
    rows = parties.parts(session, dossier)
    agencies = _agencies(session, {r.agency_id for r in rows})
    return [PartOut(agency=_out(agencies[r.agency_id]), kind=agencies[r.agency_id].kind, since=r.since,
                    budget_minutes=r.budget_minutes, spent_minutes=r.spent_minutes,
                    holds_now=r.part_started_at is not None, overran=r.overran, caused_late=r.caused_late)
            for r in rows]


# --- reports ------------------------------------------------------------------------------------

class LatenessReport(BaseModel):
    agency: AgencyOut
    period: PeriodOut
    took_part: int = Field(description="Hồ sơ liên thông có kết quả trong kỳ mà cơ quan tham gia")
    late_total: int = Field(description="Trong đó quá hạn")
    late_caused_here: int = Field(description="Quá hạn do cơ quan này")
    late_caused_elsewhere: int = Field(description="Quá hạn do cơ quan khác")
    overran_here: int = Field(description="Cơ quan dùng quá thời gian được phân bổ")


@router.get("/reports/interagency", response_model=LatenessReport,
            summary="Hồ sơ liên thông: quá hạn do cơ quan mình / do cơ quan khác")
def lateness(session: SessionDep, principal: Reporter, settings: SettingsDep, period: PeriodQ = None,
             date_from: FromQ = None, date_to: ToQ = None) -> LatenessReport:
    p = _period(settings, period, date_from, date_to)
    here = principal.scope_agency_id
    rows = session.execute(
        select(DossierAgency.dossier_id, DossierAgency.caused_late, DossierAgency.overran, Dossier.outcome,
               Dossier.agency_id)
        .join(Dossier, Dossier.id == DossierAgency.dossier_id)
        .where(DossierAgency.agency_id == here, Dossier.resolved_at >= p.start,  # type: ignore[operator]
               Dossier.resolved_at < p.end)).all()  # type: ignore[operator]
    late = [r for r in rows if r.outcome == "late"]
    # As in the periodic report's columns: a late dossier with no agency recorded is the competent one's.
    recorded = set(session.execute(select(DossierAgency.dossier_id).where(
        DossierAgency.dossier_id.in_([r.dossier_id for r in late]), DossierAgency.caused_late.is_(True))).scalars()) \
        if late else set()  # type: ignore[attr-defined]
    caused = sum(1 for r in late if r.caused_late or (r.dossier_id not in recorded and r.agency_id == here))
    return LatenessReport(agency=queries.agency_out(session, here), period=queries.period_out(p),
                          took_part=len(rows), late_total=len(late), late_caused_here=caused,
                          late_caused_elsewhere=len(late) - caused,
                          overran_here=sum(1 for r in rows if r.overran))


class ProvinceAgencyRow(BaseModel):
    agency: AgencyOut
    kind: str
    totals: Counts
    rows: list[PeriodicRow]


class ProvinceReport(BaseModel):
    province: str
    period: PeriodOut
    agencies: list[ProvinceAgencyRow]
    totals: Counts = Field(description="Tổng của các cơ quan trong tỉnh")


def province_of(code: str) -> str:
    """The province part of a Decision 20/2020/QĐ-TTg identifier (`000.00.17.H26` → `H26`)."""
    return code.rsplit(".", 1)[-1]


def _province_report(session, principal: Principal, settings, clock, period, date_from: date | None,  # noqa: ANN001
                     date_to: date | None) -> ProvinceReport:
    own = session.get(Agency, principal.scope_agency_id)
    if own is None or own.kind not in (parties.AgencyKind.centre, parties.AgencyKind.people_committee):
        raise NotPermitted("Báo cáo toàn tỉnh dành cho Trung tâm Phục vụ hành chính công và cán bộ tổng hợp "
                           "của UBND tỉnh.", code="province_scope_required")
    province = province_of(own.code)
    p = _period(settings, period, date_from, date_to)
    now: datetime = clock.now()
    members = [a for a in session.exec(select(Agency).where(Agency.is_division.is_(False))  # type: ignore[attr-defined]
                                       .order_by(Agency.code)).all() if province_of(a.code) == province]
    # Closed months from the monthly aggregates, the rest directly: the same figures as each
    # agency's periodic report (app/reports/aggregates.py; tests/reports/test_aggregates.py).
    facts = aggregates.periodic_facts(session, [a.id for a in members], p, now=now, tz=settings.timezone)
    procedures = queries.procedure_names(session, {pid for rows in facts.values() for pid in rows})
    out = []
    for agency in members:
        rows = queries.periodic_rows(session, facts[agency.id], procedures)
        out.append(ProvinceAgencyRow(agency=_out(agency), kind=agency.kind, totals=queries.sum_counts(rows),
                                     rows=rows))
    totals = Counts(**{name: sum(getattr(a.totals, name) for a in out) for name in Counts.model_fields})
    return ProvinceReport(province=province, period=queries.period_out(p), agencies=out, totals=totals)


@router.get("/reports/province", response_model=ProvinceReport,
            summary="Báo cáo định kỳ toàn tỉnh, theo cơ quan và thủ tục (Trung tâm, UBND tỉnh)")
def province(session: SessionDep, principal: Reporter, settings: SettingsDep, clock: ClockDep,
             period: PeriodQ = None, date_from: FromQ = None, date_to: ToQ = None) -> ProvinceReport:
    return _province_report(session, principal, settings, clock, period, date_from, date_to)


def _as_periodic(report: ProvinceReport) -> PeriodicReport:
    rows = [row.model_copy(update={"procedure_name": f"{a.agency.name}: {row.procedure_name}"})
            for a in report.agencies for row in a.rows]
    return PeriodicReport(agency=AgencyOut(code=report.province, name=f"Toàn tỉnh ({report.province})"),
                          period=report.period, rows=rows, totals=report.totals)


@router.get("/reports/province.csv", response_class=Response, responses={200: {"content": {"text/csv": {}}}},
            summary="Báo cáo toàn tỉnh dạng CSV")
def province_csv(session: SessionDep, principal: Reporter, settings: SettingsDep, clock: ClockDep,
                 period: PeriodQ = None, date_from: FromQ = None, date_to: ToQ = None) -> Response:
    report = _as_periodic(_province_report(session, principal, settings, clock, period, date_from, date_to))
    return download(export.to_csv(report), "text/csv; charset=utf-8", export.filename(report, "csv"))


@router.get("/reports/province.xlsx", response_class=Response, responses={200: {"content": {XLSX: {}}}},
            summary="Báo cáo toàn tỉnh dạng Excel (XLSX)")
def province_xlsx(session: SessionDep, principal: Reporter, settings: SettingsDep, clock: ClockDep,
                  period: PeriodQ = None, date_from: FromQ = None, date_to: ToQ = None) -> Response:
    report = _as_periodic(_province_report(session, principal, settings, clock, period, date_from, date_to))
    return download(export.to_xlsx(report, generated_at=clock.now(), tz=settings.timezone), XLSX,
                     export.filename(report, "xlsx"))


# --- opinions asked of other agencies (lấy ý kiến) ----------------------------------------------

OpinionId = Annotated[int, Path(ge=1, le=2**31 - 1)]
# The holder of the step asks; any officer of the consulted agency (desk / văn thư, specialist, leader) answers.
Asker = Annotated[Principal, Depends(require_roles(Role.specialist, Role.leader))]
Answerer = Annotated[Principal, Depends(require_roles(Role.desk, Role.specialist, Role.leader))]


class OpinionsIn(BaseModel):
    version: int | None = Field(default=None, ge=1, le=2**31 - 1)
    agencies: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(min_length=1, max_length=20,
                                                                               description="Mã các cơ quan được hỏi")
    question: str = Field(min_length=1, max_length=2000)
    due_hours: int = Field(ge=1, le=400, description="Thời hạn trả lời (giờ làm việc)")


class OpinionAnswerIn(BaseModel):
    agree: bool
    answer: str = Field(min_length=1, max_length=2000)


class OpinionOut(BaseModel):
    id: int
    agency: AgencyOut
    step_index: int
    question: str
    asked_at: LocalDateTime
    due_at: LocalDateTime
    status: str = Field(description="pending | agreed | disagreed | no_answer")
    answered_at: LocalDateTime | None
    answered_by: str | None
    answer: str | None
    counts_as_agreement: bool = Field(description="Đồng ý, hoặc không trả lời mà thủ tục coi im lặng là đồng ý")


def _opinions_out(session, dossier, rows) -> list[OpinionOut]:  # noqa: ANN001
    from app.models import Procedure

    procedure = session.get(Procedure, dossier.procedure_id)
    silence = bool((procedure.parties or {}).get("silence_is_consent")) if procedure else False
    agencies = _agencies(session, {r.agency_id for r in rows})
    users = _names(session, {r.answered_by_id for r in rows})
    return [OpinionOut(id=r.id, agency=_out(agencies[r.agency_id]), step_index=r.step_index, question=r.question,
                       asked_at=r.asked_at, due_at=r.due_at, status=r.status, answered_at=r.answered_at,
                       answered_by=users.get(r.answered_by_id), answer=r.answer,
                       counts_as_agreement=r.status == "agreed" or (r.status == "no_answer" and silence))
            for r in rows]


@router.get("/dossiers/{code}/opinions", response_model=list[OpinionOut],
            summary="Ý kiến của các cơ quan được hỏi (quá hạn không trả lời: ghi nhận “không có ý kiến”)")
def list_opinions(code: CodePath, session: SessionDep, principal: Staff, clock: ClockDep) -> list[OpinionOut]:
    dossier = get_dossier(session, code, principal)
    parties.expire_opinions(session, dossier, clock.now())
    return _opinions_out(session, dossier, parties.opinions(session, dossier))


@router.post("/dossiers/{code}/opinions", response_model=list[OpinionOut], status_code=201,
             summary="Lấy ý kiến song song của nhiều cơ quan, có thời hạn (người đang giữ bước)")
def ask_opinions(code: CodePath, data: OpinionsIn, session: SessionDep, principal: Asker, clock: ClockDep,
                 settings: SettingsDep) -> list[OpinionOut]:
    ctx = Context(principal, clock.now(), settings)
    rows = interagency.ask_opinions(session, code, ctx, agencies=data.agencies, question=data.question,
                                due_hours=data.due_hours, expected_version=data.version)
    dossier = get_dossier(session, code, principal)
    return _opinions_out(session, dossier, rows)


@router.post("/dossiers/{code}/opinions/{opinion_id}/answer", response_model=OpinionOut,
             summary="Cơ quan được lấy ý kiến trả lời")
def answer_opinion(code: CodePath, opinion_id: OpinionId, data: OpinionAnswerIn, session: SessionDep,
                   principal: Answerer, clock: ClockDep, settings: SettingsDep) -> OpinionOut:
    ctx = Context(principal, clock.now(), settings)
    row = interagency.answer_opinion(session, code, opinion_id, ctx, agree=data.agree, answer=data.answer)
    dossier = get_dossier(session, code, principal)
    return _opinions_out(session, dossier, [row])[0]
