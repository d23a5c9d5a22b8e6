"""The `late_risk` alert, the stored forecasts and the apology's estimate (docs/FORESIGHT.md, issue 17).

The scheduler's `late_risk` job (app/sla/scheduler.py `run_late_risk`, every minute, gated below). At most every
`late_risk_interval_minutes` (a `system_state` mark shared by the replicas), each running dossier in
a workflow step whose appointment is still ahead is forecast (app/foresight/forecast.py, the model
learnt from the last `late_risk_history_days` and kept for the day) and its forecast stored in
`dossier_forecasts` (one row per dossier; the rows of dossiers no longer forecast are deleted),
which the staff dossier detail and the dashboard read. When the forecast of a dossier not yet due
soon draws on recorded rounds (not budgets alone) and passes `late_risk_threshold`, an alert goes to
the step holder and its leader (the division's leaders for a division step, else the agency's),
once per appointment (uq_alerts_once).

`apology_estimate` gives the apology drafts (app/sla/apology.py) the forecast's working time still
needed, at its 90th percentile, for the new appointment they propose.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from app import access, parties
from app.auth.principal import Principal
from app.channels.messages import when_text
from app.db import transaction, try_advisory_xact_lock
from app.foresight import forecast
from app.models import ClockState, Dossier, DossierForecast, Procedure, Role, SystemState, User
from app.settings import Settings
from app.sla.calendar import WorkingCalendar
from app.sla.service import calendar_for

LATE_RISK = "late_risk"
STATE_KEY = "late_risk_scan_at"
LATE_RISK_LOCK = "motcua.late_risk"
_models: dict[tuple[str, str], forecast.DurationModel] = {}  # (database and agency, local day) -> model


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
    """The model of the day for these agencies: each agency's rounds are learnt once a day per
    database (the scan's pass over all agencies, a dossier's read and an apology draft share them)."""
    tz = next(iter(calendars.values())).tz
    day = now.astimezone(tz).date().isoformat()
    url = str(session.get_bind().url)
    if len(_models) > 256:
        _models.clear()
    parts = []
    for agency_id, cal in sorted(calendars.items()):
        key = (f"{url}|{agency_id}", day)
        if key not in _models:
            _models[key] = forecast.load_model(
                session, since=now - timedelta(days=settings.late_risk_history_days), until=now,
                calendars={agency_id: cal}, agency_ids=[agency_id])
        parts.append(_models[key])
    if len(parts) == 1:
        return parts[0]
    merged = forecast.DurationModel()  # rounds are keyed by agency, a procedure is one agency's: no collision
    for part in parts:
        merged.rounds.update(part.rounds)
        merged.resolving_step.update(part.resolving_step)
    return merged


def message(code: str, procedure_name: str, risk: forecast.Risk, due_at: datetime) -> str:
    cause = f" Bước thường chậm: {risk.cause_name}." if risk.cause_name else ""
    return (f"Hồ sơ {code} ({procedure_name}) có nguy cơ trễ hạn: khả năng không kịp hẹn trả {when_text(due_at)} "
            f"là {round(100 * risk.probability)}%, dự kiến có kết quả {when_text(risk.expected_ready_at)}.{cause}")[:1000]


def scan_late_risk(factory: sessionmaker[Session], *, now: datetime, settings: Settings) -> int:
    """Forecast the running dossiers, store the forecasts, raise the `late_risk` alerts due now;
    returns how many alerts were new."""
    from app.sla.scan import insert_alerts  # the scan's writer (the scan imports this module lazily too)

    with transaction(factory) as session:
        if not _due(session, now, settings):
            return 0
        dossiers = list(session.execute(select(Dossier).where(
            Dossier.clock_state == ClockState.running, Dossier.current_step.is_not(None),
            Dossier.step_started_at.is_not(None), Dossier.due_at > now)).scalars())
        if not dossiers:
            _store(session, [], now)
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
        rows, stored = [], []
        for d in dossiers:
            procedure = procedures[d.procedure_id]
            risk = forecast.forecast_dossier(model, d, procedure.workflow, now=now, cal=calendars[d.agency_id])
            if risk is None:
                continue
            stored.append({"dossier_id": d.id, "step": d.current_step, "due_at": d.due_at,
                           "probability": risk.probability, "expected_ready_at": risk.expected_ready_at,
                           "cause_step": risk.cause_step, "cause_name": (risk.cause_name or "")[:255] or None,
                           "basis": risk.basis, "computed_at": now})
            # Budgets alone are what the apology-draft rule already reads (the scan's work-left test):
            # an alert of its own needs recorded rounds; a dossier due soon already has its alert.
            if not _warns(risk.basis, risk.probability, settings) or risk.minutes_left <= 0 \
                    or d.due_soon_at is None or d.due_soon_at <= now:
                continue
            step = procedure.workflow[d.current_step] if d.current_step is not None and \
                d.current_step < len(procedure.workflow) else {}
            supervisors = leaders.get(d.assigned_division_id, set()) if step.get("scope") == "division" and \
                d.assigned_division_id else set()
            recipients = ({d.assignee_id} if d.assignee_id else set()) | (supervisors or leaders.get(d.agency_id, set()))
            text = message(d.code, procedure.name, risk, d.due_at)  # type: ignore[arg-type]
            rows += [{"dossier_id": d.id, "kind": LATE_RISK, "deadline_at": d.due_at, "recipient_id": r,
                      "message": text, "created_at": now} for r in sorted(recipients)]
        _store(session, stored, now)
        return insert_alerts(session, rows) if rows else 0


def _warns(basis: str, probability: float, settings: Settings) -> bool:
    """A forecast that raises `late_risk` (and that `at_risk` lists): on recorded rounds, above the threshold."""
    return basis != "budgets" and probability > settings.late_risk_threshold


def _store(session: Session, rows: list[dict[str, Any]], now: datetime) -> None:
    """Upsert this pass's forecasts; delete the older rows (dossiers this pass did not forecast: a
    result, a pause, an appointment passed)."""
    table = DossierForecast.__table__  # type: ignore[attr-defined]
    if rows:
        if session.get_bind().dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        stmt = insert(table)
        session.execute(stmt.on_conflict_do_update(
            index_elements=["dossier_id"],
            set_={c: stmt.excluded[c] for c in rows[0] if c != "dossier_id"}), rows)
    session.execute(delete(table).where(table.c.computed_at < now))


# --- reads -------------------------------------------------------------------------------------

def _current():  # noqa: ANN202
    """Stored forecasts still about the dossier as it is: its clock runs, same step, same appointment."""
    return (select(DossierForecast, Dossier).join(Dossier, Dossier.id == DossierForecast.dossier_id)
            .where(Dossier.clock_state == ClockState.running, Dossier.current_step == DossierForecast.step,
                   Dossier.due_at == DossierForecast.due_at))


def stored_risk(session: Session, dossier: Dossier) -> DossierForecast | None:
    """The dossier's latest stored forecast, None when it is not forecast or the forecast is stale."""
    row = session.execute(_current().where(DossierForecast.dossier_id == dossier.id)).first()
    return row[0] if row is not None else None


def at_risk(session: Session, principal: Principal, *, settings: Settings, division_id: int | None = None,
            limit: int = 10) -> list[tuple[DossierForecast, Dossier, Procedure]]:
    """The caller's dossiers (the dossier list's scope, optionally one division's) whose stored
    forecast is an alert's: on recorded rounds and above the threshold; most at risk first."""
    query = access.scoped(_current().add_columns(Procedure).join(Procedure, Procedure.id == Dossier.procedure_id)
                          .where(DossierForecast.basis != "budgets",
                                 DossierForecast.probability > settings.late_risk_threshold), principal)
    if division_id is not None:
        query = query.where(Dossier.assigned_division_id == division_id)
    rows = session.execute(query.order_by(DossierForecast.probability.desc(), Dossier.due_at, Dossier.id)
                           .limit(limit)).all()
    return [(r[0], r[1], r[2]) for r in rows]


# --- the apology's new appointment -------------------------------------------------------------

def apology_estimate(session: Session, *, now: datetime, settings: Settings
                     ) -> Callable[[Dossier, Procedure], int | None]:
    """For `app.sla.apology.propose_due_at`: dossier, procedure -> the working minutes the forecast
    says are still needed at its 90th percentile (a promise to a citizen: kept in 9 draws of 10,
    where the median would be broken every other time), or None where the budget rule stays: a
    forecast on budgets alone, a clock that does not run, a dossier not in a step, an inter-agency procedure
    (its steps run on several agencies' calendars; the recorded rounds are measured on the competent
    agency's, so its step-by-step budget counting is kept)."""
    def estimate(dossier: Dossier, procedure: Procedure) -> int | None:
        if parties.is_interagency(procedure):
            return None
        cal = calendar_for(session, dossier.agency_id, settings)
        model = model_for(session, now=now, settings=settings, calendars={dossier.agency_id: cal})
        risk = forecast.forecast_dossier(model, dossier, procedure.workflow, now=now, cal=cal)
        return None if risk is None or risk.basis == "budgets" else risk.p90_minutes_needed

    return estimate
