"""Analysis of the recorded history (issue 17, docs/FORESIGHT.md): what-if replay of a time limit,
the event log for process mining, the dossiers at risk of being late. Roles reporter or leader,
scoped to the caller's agency."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from app import access
from app.api.deps import ClockDep, SessionDep, SettingsDep
from app.api.reports import XLSX, FromQ, PeriodQ, ProcedureQ, ToQ, download
from app.auth.deps import Reporter, Staff
from app.foresight import eventlog, export, forecast, replay, risk_scan
from app.foresight.schemas import AtRiskItem, AtRiskPage, LateRiskOut, WhatIfIn, WhatIfOut
from app.models import ClockState, Procedure
from app.reports.periods import parse_period
from app.sla.service import calendar_for

router = APIRouter(prefix="/api/v1/analysis", tags=["phân tích"])


def _what_if(session, principal, settings, body: WhatIfIn) -> WhatIfOut:  # noqa: ANN001
    period = parse_period(body.period, settings.timezone, from_=body.date_from, to=body.date_to)
    return replay.what_if(session, agency_id=principal.scope_agency_id, request=body, period=period,
                          settings=settings)


@router.post("/what-if", response_model=WhatIfOut,
             summary="Tính lại: hồ sơ của một kỳ sẽ trước hạn, đúng hạn, quá hạn bao nhiêu nếu đổi thời hạn")
def what_if(body: WhatIfIn, session: SessionDep, principal: Reporter, settings: SettingsDep) -> WhatIfOut:
    return _what_if(session, principal, settings, body)


@router.post("/what-if.xlsx", response_class=Response, responses={200: {"content": {XLSX: {}}}},
             summary="Tải kết quả tính lại thời hạn dạng Excel (XLSX)")
def what_if_xlsx(body: WhatIfIn, session: SessionDep, principal: Reporter, settings: SettingsDep,
                 clock: ClockDep) -> Response:
    out = _what_if(session, principal, settings, body)
    return download(export.to_xlsx(out, generated_at=clock.now(), tz=settings.timezone), XLSX, export.filename(out))



def _log(session, principal, settings, period, date_from, date_to, procedure_code):  # noqa: ANN001, ANN202
    chosen = parse_period(period, settings.timezone, from_=date_from, to=date_to)
    cases = eventlog.load_log(session, agency_id=principal.scope_agency_id, period=chosen, settings=settings,
                              procedure_code=procedure_code)
    return chosen, cases


@router.get("/event-log.xes", response_class=Response, responses={200: {"content": {"application/xml": {}}}},
            summary="Nhật ký sự kiện hồ sơ của kỳ (IEEE XES) cho công cụ khai phá quy trình; hồ sơ được ẩn danh")
def event_log_xes(session: SessionDep, principal: Reporter, settings: SettingsDep, period: PeriodQ = None,
                  date_from: FromQ = None, date_to: ToQ = None, procedure_code: ProcedureQ = None) -> Response:
    chosen, cases = _log(session, principal, settings, period, date_from, date_to, procedure_code)
    name = f"nhat-ky-ho-so_{chosen.key}".replace("..", "_")
    return download(eventlog.to_xes(cases, name=name), "application/xml", f"{name}.xes")


@router.get("/event-log.ocel.json", response_class=Response, responses={200: {"content": {"application/json": {}}}},
            summary="Nhật ký sự kiện hồ sơ của kỳ (OCEL 2.0 JSON); hồ sơ được ẩn danh")
def event_log_ocel(session: SessionDep, principal: Reporter, settings: SettingsDep, period: PeriodQ = None,
                   date_from: FromQ = None, date_to: ToQ = None, procedure_code: ProcedureQ = None) -> Response:
    chosen, cases = _log(session, principal, settings, period, date_from, date_to, procedure_code)
    name = f"nhat-ky-ho-so_{chosen.key}".replace("..", "_")
    return download(eventlog.to_ocel(cases), "application/json", f"{name}.ocel.json")


@router.get("/at-risk", response_model=AtRiskPage,
            summary="Hồ sơ có nguy cơ trễ hạn (theo lần dự báo gần nhất), nguy cơ cao trước")
def at_risk(session: SessionDep, principal: Reporter, settings: SettingsDep,
            division: Annotated[str | None, Query(max_length=64, description=(
                "Chỉ hồ sơ do phòng chuyên môn này giải quyết (mã phòng, như trên bảng điều khiển)"))] = None,
            limit: Annotated[int, Query(ge=1, le=200)] = 10) -> AtRiskPage:
    unit = access.division_of(session, principal.scope_agency_id, division).id if division else None
    items = []
    for risk, dossier, procedure in risk_scan.at_risk(session, principal, settings=settings, division_id=unit,
                                                      limit=limit):
        step = procedure.workflow[risk.step] if risk.step < len(procedure.workflow) else {}
        items.append(AtRiskItem(code=dossier.code, procedure_code=procedure.code, procedure_name=procedure.name,
                                due_at=dossier.due_at, step_name=step.get("name"), probability=risk.probability,
                                cause_name=risk.cause_name, expected_ready_at=risk.expected_ready_at,
                                basis=risk.basis, computed_at=risk.computed_at))
    return AtRiskPage(threshold=settings.late_risk_threshold, items=items)


dossier_router = APIRouter(prefix="/api/v1/dossiers", tags=["phân tích"])
CodePath = Annotated[str, Path(max_length=64, description="Mã hồ sơ")]


@dossier_router.get("/{code}/late-risk", response_model=LateRiskOut,
                    summary="Nguy cơ trễ hạn của hồ sơ đang xử lý và bước thường chậm (dự báo từ số liệu đã ghi)")
def late_risk(code: CodePath, session: SessionDep, principal: Staff, settings: SettingsDep,
              clock: ClockDep) -> LateRiskOut:
    dossier = access.get_dossier(session, code, principal)
    now = clock.now()
    out = LateRiskOut(code=dossier.code, forecast=False, due_at=dossier.due_at,
                      threshold=settings.late_risk_threshold)
    if dossier.clock_state != ClockState.running or dossier.current_step is None:
        out.reason = "Đồng hồ thời hạn không chạy (tạm dừng, đã xong) hoặc hồ sơ chưa ở bước xử lý."
        return out
    procedure = session.get(Procedure, dossier.procedure_id)
    assert procedure is not None
    cal = calendar_for(session, dossier.agency_id, settings)
    model = risk_scan.model_for(session, now=now, settings=settings, calendars={dossier.agency_id: cal})
    risk = forecast.forecast_dossier(model, dossier, procedure.workflow, now=now, cal=cal)
    if risk is None:
        out.reason = "Không đủ dữ liệu để dự báo."
        return out
    return out.model_copy(update=dict(
        forecast=True, probability=risk.probability, expected_ready_at=risk.expected_ready_at,
        working_hours_left=round(risk.minutes_left / 60, 1),
        working_hours_needed_median=round(risk.median_minutes_needed / 60, 1),
        working_hours_needed_p90=round(risk.p90_minutes_needed / 60, 1), cause_step=risk.cause_step,
        cause_name=risk.cause_name, cause_overrun_hours=round(risk.cause_overrun_minutes / 60, 1), basis=risk.basis))
