"""Reports for the Department: periodic report (JSON, XLSX, CSV), on-time rates, Decision 766 indicators,
citizens' satisfaction (JSON, CSV, XLSX).

Roles reporter or leader; every figure is scoped to the caller's agency (dossiers it handles).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from app.api.deps import ClockDep, SessionDep, SettingsDep
from app.auth.deps import Reporter
from app.feedback import export as feedback_export
from app.feedback import reports as feedback_reports
from app.feedback.schemas import SatisfactionReport
from app.fields import LocalDate
from app.reports import export, queries
from app.reports.indicators import indicator_report
from app.reports.periods import Period, parse_period
from app.reports.schemas import IndicatorReport, MonthlyOnTime, OnTimeReport, PeriodicReport

router = APIRouter(prefix="/api/v1/reports", tags=["báo cáo"])

PeriodQ = Annotated[str | None, Query(max_length=32, description="Kỳ báo cáo: 2026 (năm), 2026-H1 (6 tháng), "
                                                                 "2026-Q3 (quý), 2026-11 (tháng)")]
FromQ = Annotated[LocalDate | None, Query(alias="from", description="Từ ngày (YYYY-MM-DD), dùng cùng `to`")]
ToQ = Annotated[LocalDate | None, Query(alias="to", description="Đến hết ngày (YYYY-MM-DD)")]
ProcedureQ = Annotated[str | None, Query(max_length=32, description="Chỉ một thủ tục (mã thủ tục)")]
DivisionQ = Annotated[str | None, Query(max_length=80, description="Chỉ một phòng chuyên môn (mã, ví dụ QLCL)")]
ImportedQ = Annotated[bool, Query(description="Tính cả hồ sơ nhập từ hệ thống cũ (mặc định: có); báo cáo nêu số "
                                              "hồ sơ nhập có trong số liệu (imported_rows)")]


def _period(settings, period: str | None, date_from: date | None, date_to: date | None) -> Period:  # noqa: ANN001
    return parse_period(period, settings.timezone, from_=date_from, to=date_to)


@router.get("/periodic", response_model=PeriodicReport,
            summary="Báo cáo định kỳ tình hình, kết quả giải quyết TTHC theo thủ tục")
def periodic(session: SessionDep, principal: Reporter, settings: SettingsDep, clock: ClockDep,
             period: PeriodQ = None, date_from: FromQ = None, date_to: ToQ = None, procedure_code: ProcedureQ = None,
             division: DivisionQ = None, include_imported: ImportedQ = True) -> PeriodicReport:
    return queries.periodic_report(session, agency_id=principal.scope_agency_id,
                                   period=_period(settings, period, date_from, date_to), now=clock.now(),
                                   procedure_code=procedure_code, division=division,
                                  include_imported=include_imported)


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def download(content: bytes, media_type: str, name: str) -> Response:
    """A file to save (reports, exports): attachment, never cached."""
    return Response(content, media_type=media_type, headers={
        "Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


@router.get("/periodic.xlsx", response_class=Response, responses={200: {"content": {XLSX: {}}}},
            summary="Tải báo cáo định kỳ dạng Excel (XLSX)")
def periodic_xlsx(session: SessionDep, principal: Reporter, settings: SettingsDep, clock: ClockDep,
                  period: PeriodQ = None, date_from: FromQ = None, date_to: ToQ = None,
                  procedure_code: ProcedureQ = None, division: DivisionQ = None,
                  include_imported: ImportedQ = True) -> Response:
    report = queries.periodic_report(session, agency_id=principal.scope_agency_id,
                                     period=_period(settings, period, date_from, date_to), now=clock.now(),
                                     procedure_code=procedure_code, division=division,
                                     include_imported=include_imported)
    return download(export.to_xlsx(report, generated_at=clock.now(), tz=settings.timezone), XLSX,
                     export.filename(report, "xlsx"))


@router.get("/periodic.csv", response_class=Response, responses={200: {"content": {"text/csv": {}}}},
            summary="Tải báo cáo định kỳ dạng CSV (UTF-8 có BOM, mở được bằng Excel)")
def periodic_csv(session: SessionDep, principal: Reporter, settings: SettingsDep, clock: ClockDep,
                 period: PeriodQ = None,
                 date_from: FromQ = None, date_to: ToQ = None, procedure_code: ProcedureQ = None,
                 division: DivisionQ = None, include_imported: ImportedQ = True) -> Response:
    report = queries.periodic_report(session, agency_id=principal.scope_agency_id,
                                     period=_period(settings, period, date_from, date_to), now=clock.now(),
                                     procedure_code=procedure_code, division=division,
                                     include_imported=include_imported)
    return download(export.to_csv(report), "text/csv; charset=utf-8", export.filename(report, "csv"))


@router.get("/on-time", response_model=OnTimeReport,
            summary="Tỷ lệ giải quyết đúng hạn theo cơ quan, phòng, thủ tục hoặc kênh (hai cách tính)")
def on_time(session: SessionDep, principal: Reporter, settings: SettingsDep, clock: ClockDep,
            period: PeriodQ = None, date_from: FromQ = None, date_to: ToQ = None,
            group_by: Literal["agency", "division", "procedure", "channel"] = "agency",
            procedure_code: ProcedureQ = None, division: DivisionQ = None,
            include_imported: ImportedQ = True) -> OnTimeReport:
    return queries.on_time_report(session, agency_id=principal.scope_agency_id,
                                  period=_period(settings, period, date_from, date_to), group_by=group_by,
                                  now=clock.now(),
                                  procedure_code=procedure_code, division=division,
                                  include_imported=include_imported)


@router.get("/monthly-on-time", response_model=MonthlyOnTime,
            summary="Tỷ lệ đúng hạn từng tháng (các tháng gần nhất, đến tháng hiện tại)")
def monthly(session: SessionDep, principal: Reporter, settings: SettingsDep, clock: ClockDep,
            months: Annotated[int, Query(ge=1, le=36)] = 12, division: DivisionQ = None,
            include_imported: ImportedQ = True) -> MonthlyOnTime:
    return queries.monthly_on_time(session, agency_id=principal.scope_agency_id, now=clock.now(), months=months,
                                   settings=settings, include_imported=include_imported, division=division)


@router.get("/indicators", response_model=IndicatorReport,
            summary="Chỉ số theo Quyết định 766/QĐ-TTg mà dữ liệu hiện có cho phép tính")
def indicators(session: SessionDep, principal: Reporter, settings: SettingsDep, clock: ClockDep,
               period: PeriodQ = None,
               date_from: FromQ = None, date_to: ToQ = None,
               include_imported: ImportedQ = True) -> IndicatorReport:
    return indicator_report(session, agency_id=principal.scope_agency_id,
                                    period=_period(settings, period, date_from, date_to), now=clock.now(),
                                    include_imported=include_imported)


# --- citizens' satisfaction (app/feedback/reports.py) ------------------------------------------

@router.get("/satisfaction", response_model=SatisfactionReport,
            summary="Mức độ hài lòng của người dân theo thủ tục và toàn cơ quan, kèm số phiếu đánh giá")
def satisfaction(session: SessionDep, principal: Reporter, settings: SettingsDep, period: PeriodQ = None,
                 date_from: FromQ = None, date_to: ToQ = None) -> SatisfactionReport:
    return feedback_reports.satisfaction_report(session, agency_id=principal.scope_agency_id,
                                                period=_period(settings, period, date_from, date_to))


@router.get("/satisfaction.csv", response_class=Response, responses={200: {"content": {"text/csv": {}}}},
            summary="Tải kết quả đánh giá mức độ hài lòng dạng CSV")
def satisfaction_csv(session: SessionDep, principal: Reporter, settings: SettingsDep, period: PeriodQ = None,
                     date_from: FromQ = None, date_to: ToQ = None) -> Response:
    report = feedback_reports.satisfaction_report(session, agency_id=principal.scope_agency_id,
                                                  period=_period(settings, period, date_from, date_to))
    return download(feedback_export.to_csv(report), "text/csv; charset=utf-8", feedback_export.filename(report, "csv"))


@router.get("/satisfaction.xlsx", response_class=Response, responses={200: {"content": {XLSX: {}}}},
            summary="Tải kết quả đánh giá mức độ hài lòng dạng Excel (XLSX)")
def satisfaction_xlsx(session: SessionDep, principal: Reporter, settings: SettingsDep, clock: ClockDep,
                      period: PeriodQ = None, date_from: FromQ = None, date_to: ToQ = None) -> Response:
    report = feedback_reports.satisfaction_report(session, agency_id=principal.scope_agency_id,
                                                  period=_period(settings, period, date_from, date_to))
    return download(feedback_export.to_xlsx(report, generated_at=clock.now(), tz=settings.timezone), XLSX,
                     feedback_export.filename(report, "xlsx"))
