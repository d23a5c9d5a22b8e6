"""The `late_risk` alert: part of the deadline scan (app/sla/scan.py calls `scan_late_risk`).

At most every `late_risk_interval_minutes` (a `system_state` mark shared by the replicas), each
running dossier in a workflow step that is not yet due soon is forecast (app/foresight/forecast.py,
the model learnt from the last `late_risk_history_days` and kept for the day); when the forecast
draws on recorded rounds (not budgets alone) and passes `late_risk_threshold`, an alert goes to the step holder and its leader (the division's leaders for
a division step, else the agency's), once per appointment (uq_alerts_once).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from app.channels.messages import when_text
from app.db import transaction, try_advisory_xact_lock
from app.foresight import forecast
from app.models import ClockState, Dossier, Procedure, Role, SystemState, User
from app.settings import Settings
from app.sla.calendar import WorkingCalendar
from app.sla.service import calendar_for

LATE_RISK = "late_risk"
STATE_KEY = "late_risk_scan_at"
LATE_RISK_LOCK = "motcua.late_risk"
_models: dict[tuple[str, str], forecast.DurationModel] = {}  # (database and agencies, local day) -> model


def _due(session: Session, now: datetime, settings: Settings) -> bool:
    """Claim this run unless one ran within the interval. The advisory lock lets one replica in at a
    time (PostgreSQL; the other skips), the mark keeps the interval."""
    if not try_advisory_xact_lock(session, LATE_RISK_LOCK):
        return False
    row = session.execute(select(SystemState).where(SystemState.key == STATE_KEY).with_for_update()).scalars().first()
    if row is not None and datetime.fromisoformat(row.value) > now - timedelta(minutes=settings.late_risk_interval_minutes):
        return False
    if row is None:
        session.add(SystemState(key=STATE_KEY, value=now.isoformat(), updated_at=now))
    else:
        row.value, row.updated_at = now.isoformat(), now
    session.flush()
    return True


def forget_models() -> None:
    """Drop the day's models (a history loaded within the day: tests, an import)."""
    _models.clear()


def model_for(session: Session, *, now: datetime, settings: Settings, calendars: dict[int, WorkingCalendar]
              ) -> forecast.DurationModel:
    """The model of the day for these agencies (trained once a day per database and agency set)."""
    tz = next(iter(calendars.values())).tz
    key = (f"{session.get_bind().url}|{sorted(calendars)}", now.astimezone(tz).date().isoformat())
    model = _models.get(key)
    if model is None:
        if len(_models) > 64:
            _models.clear()
        model = _models[key] = forecast.load_model(
            session, since=now - timedelta(days=settings.late_risk_history_days), until=now, calendars=calendars,
            agency_ids=sorted(calendars))
    return model


def message(code: str, procedure_name: str, risk: forecast.Risk, due_at: datetime) -> str:
    cause = f" Bước thường chậm: {risk.cause_name}." if risk.cause_name else ""
    return (f"Hồ sơ {code} ({procedure_name}) có nguy cơ trễ hạn: khả năng không kịp hẹn trả {when_text(due_at)} "
            f"là {round(100 * risk.probability)}%, dự kiến có kết quả {when_text(risk.expected_ready_at)}.{cause}")[:1000]


def scan_late_risk(factory: sessionmaker[Session], *, now: datetime, settings: Settings) -> int:
    """Raise the `late_risk` alerts due now; returns how many were new."""
    from app.sla.scan import insert_alerts  # the scan's writer (the scan imports this module lazily too)

    with transaction(factory) as session:
        if not _due(session, now, settings):
            return 0
        dossiers = list(session.execute(select(Dossier).where(
            Dossier.clock_state == ClockState.running, Dossier.current_step.is_not(None),
            Dossier.step_started_at.is_not(None), Dossier.due_soon_at > now)).scalars())
        if not dossiers:
            return 0
        calendars: dict[int, WorkingCalendar] = {a: calendar_for(session, a, settings)
                                                 for a in {d.agency_id for d in dossiers}}
        model = model_for(session, now=now, settings=settings, calendars=calendars)
        procedures = {p.id: p for p in session.execute(select(Procedure).where(
            Procedure.id.in_({d.procedure_id for d in dossiers}))).scalars()}
        units = {d.agency_id for d in dossiers} | {d.assigned_division_id for d in dossiers if d.assigned_division_id}
        leaders: dict[int, set[int]] = {}
        for user_id, agency_id, roles in session.execute(select(User.id, User.agency_id, User.roles).where(
                User.is_active, User.agency_id.in_(units))):
            if Role.leader in (roles or []):
                leaders.setdefault(agency_id, set()).add(user_id)
        rows = []
        for d in dossiers:
            procedure = procedures[d.procedure_id]
            risk = forecast.forecast_dossier(model, d, procedure.workflow, now=now, cal=calendars[d.agency_id])
            # Budgets alone are what the apology-draft rule already reads (the scan's work-left test):
            # an alert of its own needs recorded rounds.
            if risk is None or risk.basis == "budgets" or risk.probability <= settings.late_risk_threshold \
                    or risk.minutes_left <= 0:
                continue
            step = procedure.workflow[d.current_step] if d.current_step is not None and \
                d.current_step < len(procedure.workflow) else {}
            supervisors = leaders.get(d.assigned_division_id, set()) if step.get("scope") == "division" and \
                d.assigned_division_id else set()
            recipients = ({d.assignee_id} if d.assignee_id else set()) | (supervisors or leaders.get(d.agency_id, set()))
            text = message(d.code, procedure.name, risk, d.due_at)  # type: ignore[arg-type]
            rows += [{"dossier_id": d.id, "kind": LATE_RISK, "deadline_at": d.due_at, "recipient_id": r,
                      "message": text, "created_at": now} for r in sorted(recipients)]
        return insert_alerts(session, rows) if rows else 0
