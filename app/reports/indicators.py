"""Decision 766/QĐ-TTg indicators of an agency for a period, from the figures of `app.reports.queries`
(the same population as its periodic report) and the `digitised` and electronic-result counts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, case, distinct, func, select
from sqlmodel import Session

from app.feedback import reports as feedback_reports
from app.models import Dossier, Procedure
from app.payments.models import PaymentRequest
from app.reports.periods import Period
from app.reports.queries import (MINUTES_PER_DAY, Filters, agency_out, imported_rows, percent, period_facts,
                                 period_out, rates)
from app.reports.schemas import (COUNT_FIELDS, DigitisedRow, ElectronicResultRow, IndicatorOut, IndicatorReport,
                                 ResolutionTimeRow, UnsupportedIndicator)

UNSUPPORTED: list[UnsupportedIndicator] = []  # every indicator of Decision 766 a one-stop keeps is computed


def digitised_counts(session: Session, filters: Filters, period: Period) -> dict[int, tuple[int, int]]:
    """Per procedure: (dossiers received in the period, of which digitised), the Decision 766
    indicator `digitised`: every required component has a file (`dossiers.digitised_at`, set by
    app/documents when the last one arrives)."""
    received = and_(Dossier.received_at.is_not(None), Dossier.received_at >= period.start,
                    Dossier.received_at < period.end)
    statement = (select(Dossier.procedure_id, func.count(), func.count(Dossier.digitised_at))
                 .where(*filters.dossier_clauses(), received).group_by(Dossier.procedure_id))
    return {pid: (int(n), int(d)) for pid, n, d in session.execute(statement)}


def paid_online_counts(session: Session, filters: Filters, period: Period) -> tuple[int, int]:
    """(dossiers with a payment settled in the period, of which paid online): the Decision 766
    indicator `paid_online` (app/payments: a request paid at the desk or on the platform)."""
    paid = and_(PaymentRequest.status == "paid", PaymentRequest.paid_at >= period.start,
                PaymentRequest.paid_at < period.end)
    online = case((PaymentRequest.method == "online", PaymentRequest.dossier_id))
    statement = (select(func.count(distinct(PaymentRequest.dossier_id)), func.count(distinct(online)))
                 .join(Dossier, Dossier.id == PaymentRequest.dossier_id).where(*filters.dossier_clauses(), paid))
    total, by_platform = session.execute(statement).one()
    return int(total), int(by_platform)


def indicator_report(session: Session, *, agency_id: int, period: Period, now: datetime,
                     include_imported: bool = True) -> IndicatorReport:
    filters = Filters(session, agency_id, include_imported=include_imported)
    facts = period_facts(session, filters, period, "procedure", now=now, extras=True)
    total: dict[str, float] = {}
    for row in facts.values():
        for name, value in row.items():
            total[name] = total.get(name, 0) + (value or 0)
    t = {name: int(total.get(name, 0)) for name in
         (*COUNT_FIELDS, "portal_synced", "returned_total", "returned_online", "with_working_time",
          "resolved_electronic")}
    only, strict = rates(t)

    procedures_query = select(Procedure.id, Procedure.code, Procedure.name, Procedure.online_level,
                              Procedure.time_limit_value, Procedure.time_limit_unit).where(
        Procedure.agency_id == agency_id)
    procedures = {r.id: r for r in session.execute(procedures_query)}
    online_ids = [pid for pid, p in procedures.items() if p.online_level in ("partial", "full")]
    online_used = sum(1 for pid, row in facts.items() if row.get("new_online") and pid in online_ids)
    active_count = session.execute(select(func.count()).select_from(Procedure).where(
        Procedure.agency_id == agency_id, Procedure.is_active.is_(True))).scalar_one()
    active_online = session.execute(select(func.count()).select_from(Procedure).where(
        Procedure.agency_id == agency_id, Procedure.is_active.is_(True),
        Procedure.online_level.in_(["partial", "full"]))).scalar_one()

    received = t["received_total"]
    digitised = digitised_counts(session, filters, period)
    with_payment, paid_online = paid_online_counts(session, filters, period)
    digitised_base = sum(n for n, _ in digitised.values())
    digitised_total = sum(d for _, d in digitised.values())
    digitised_rows = sorted(
        (DigitisedRow(procedure_code=procedures[pid].code, procedure_name=procedures[pid].name, received=n,
                      digitised=d, value=percent(d, n))
         for pid, (n, d) in digitised.items() if pid in procedures), key=lambda r: r.procedure_code)
    days_label = "ngày làm việc"
    avg_working = (round(total.get("working_minutes", 0) / t["with_working_time"] / MINUTES_PER_DAY, 2)
                   if t["with_working_time"] else None)
    indicators = [
        IndicatorOut(code="synced_to_portal", name="Tỷ lệ hồ sơ đồng bộ lên Cổng Dịch vụ công quốc gia",
                     value=percent(t["portal_synced"], received), unit="%", numerator=t["portal_synced"],
                     denominator=received, note="Trên số hồ sơ mới tiếp nhận trong kỳ (đã có thời điểm đồng bộ)."),
        IndicatorOut(code="on_time", name="Tỷ lệ hồ sơ giải quyết trước hạn, đúng hạn", value=only.value, unit="%",
                     numerator=only.numerator, denominator=only.denominator, note=only.formula),
        IndicatorOut(code="on_time_strict", name=strict.name, value=strict.value, unit="%",
                     numerator=strict.numerator, denominator=strict.denominator, note=strict.formula),
        IndicatorOut(code="avg_resolution_working_days", name="Thời gian giải quyết bình quân", value=avg_working,
                     unit=days_label, numerator=t["with_working_time"], denominator=t["resolved_total"],
                     note="Ngày làm việc 8 giờ, từ tiếp nhận đến khi có kết quả, không tính thời gian chờ người "
                          "nộp bổ sung hoặc nộp phí; tính trên các hồ sơ đã lưu thời gian này (tử số)."),
        IndicatorOut(code="online_share", name="Tỷ lệ hồ sơ nộp trực tuyến", value=percent(t["new_online"], received),
                     unit="%", numerator=t["new_online"], denominator=received),
        IndicatorOut(code="postal_received_share", name="Tỷ lệ hồ sơ tiếp nhận qua bưu chính công ích",
                     value=percent(t["new_postal"], received), unit="%", numerator=t["new_postal"],
                     denominator=received),
        IndicatorOut(code="postal_returned_share", name="Tỷ lệ kết quả trả qua bưu chính công ích",
                     value=percent(t["returned_by_post"], t["returned_total"]), unit="%",
                     numerator=t["returned_by_post"], denominator=t["returned_total"],
                     note="Trên số hồ sơ đã trả kết quả trong kỳ."),
        IndicatorOut(code="returned_online", name="Tỷ lệ kết quả trả trực tuyến",
                     value=percent(t["returned_online"], t["returned_total"]), unit="%",
                     numerator=t["returned_online"], denominator=t["returned_total"]),
        IndicatorOut(code="electronic_results", name="Tỷ lệ hồ sơ có kết quả điện tử",
                     value=percent(t["resolved_electronic"], t["resolved_total"]), unit="%",
                     numerator=t["resolved_electronic"], denominator=t["resolved_total"],
                     note="Hồ sơ đã giải quyết trong kỳ có kết quả (hoặc văn bản trả lời) ký số của cơ quan."),
        feedback_reports.feedback_indicator(session, agency_id, period, now),
        IndicatorOut(code="apologies", name="Số văn bản xin lỗi đã phát hành", value=t["apologies"], unit="văn bản"),
        IndicatorOut(code="digitised", name="Tỷ lệ hồ sơ được số hóa", value=percent(digitised_total, digitised_base),
                     unit="%", numerator=digitised_total, denominator=digitised_base,
                     note="Hồ sơ tiếp nhận trong kỳ có tệp cho mọi thành phần bắt buộc (số hóa khi tiếp nhận, "
                          "nộp trực tuyến kèm tệp, hoặc dùng lại tệp đã số hóa); theo thủ tục: digitised_by_procedure."),
        IndicatorOut(code="paid_online", name="Tỷ lệ hồ sơ thanh toán trực tuyến",
                     value=percent(paid_online, with_payment), unit="%", numerator=paid_online,
                     denominator=with_payment,
                     note="Hồ sơ nộp phí, lệ phí trong kỳ qua cổng thanh toán trực tuyến, trên số hồ sơ đã nộp phí, "
                          "lệ phí trong kỳ (mọi hình thức)."),
        IndicatorOut(code="procedures_online", name="Tỷ lệ thủ tục cung cấp dịch vụ công trực tuyến",
                     value=percent(active_online, active_count), unit="%", numerator=active_online,
                     denominator=active_count, note="Toàn trình hoặc một phần, trên số thủ tục đang áp dụng."),
        IndicatorOut(code="online_services_used", name="Tỷ lệ dịch vụ công trực tuyến phát sinh hồ sơ",
                     value=percent(online_used, len(online_ids)), unit="%", numerator=online_used,
                     denominator=len(online_ids),
                     note="Thủ tục trực tuyến có ít nhất một hồ sơ nộp trực tuyến trong kỳ."),
    ]
    resolution = []
    for pid, row in facts.items():
        p = procedures.get(pid)
        if p is None or not row.get("resolved_total"):
            continue
        with_time = int(row.get("with_working_time") or 0)
        unit = "ngày làm việc" if p.time_limit_unit == "working_days" else "giờ làm việc"
        resolution.append(ResolutionTimeRow(
            procedure_code=p.code, procedure_name=p.name, time_limit=f"{p.time_limit_value} {unit}",
            resolved=row["resolved_total"], with_working_time=with_time,
            avg_working_days=round(row["working_minutes"] / with_time / MINUTES_PER_DAY, 2) if with_time else None,
            avg_calendar_days=round(float(row["calendar_days"]) / row["resolved_total"], 2)
            if row.get("calendar_days") is not None else None))
    resolution.sort(key=lambda r: r.procedure_code)
    electronic = sorted((ElectronicResultRow(
        procedure_code=procedures[pid].code, procedure_name=procedures[pid].name,
        resolved=int(row["resolved_total"]), electronic=int(row.get("resolved_electronic") or 0),
        value=percent(int(row.get("resolved_electronic") or 0), int(row["resolved_total"])))
        for pid, row in facts.items() if pid in procedures and row.get("resolved_total")),
        key=lambda r: r.procedure_code)
    return IndicatorReport(
        agency=agency_out(session, agency_id), period=period_out(period),
        basis="Quyết định 766/QĐ-TTg ngày 23/6/2022: các chỉ số dữ liệu hiện có cho phép tính.",
        indicators=indicators,
        channels={"direct": t["new_direct"], "online": t["new_online"], "postal": t["new_postal"]},
        resolution_time=resolution, digitised_by_procedure=digitised_rows, electronic_results=electronic,
        unsupported=UNSUPPORTED, include_imported=include_imported,
        imported_rows=imported_rows(facts))
