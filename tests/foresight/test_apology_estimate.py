"""The apology's new appointment uses the late-risk forecast (issue 17 item 1): on a history where a
step overruns its budget a lot, the proposal is the forecast's 90th percentile of the working time
still needed, later than the budget rule; without recorded rounds the budget rule stays
(tests/sla/test_apology.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from app import parties
from app.db import make_sessionmaker
from app.foresight import forecast
from app.foresight.risk_scan import apology_estimate, model_for
from app.models import Apology, Dossier, Procedure
from app.sla.apology import propose_due_at
from app.sla.scan import scan_deadlines
from app.sla.service import calendar_for
from tests.foresight.history import OverrunGenerator, generate


def _rules(session, dossier: Dossier, procedure: Procedure, now: datetime, settings) -> tuple[datetime, datetime | None]:  # noqa: ANN001
    """(the budget rule's proposal, the proposal from the forecast's p90 or None without history)."""
    cal = calendar_for(session, dossier.agency_id, settings)
    budget = propose_due_at(dossier, procedure, cal, now=now)
    model = model_for(session, now=now, settings=settings, calendars={dossier.agency_id: cal})
    risk = forecast.forecast_dossier(model, dossier, procedure.workflow, now=now, cal=cal)
    if risk is None or risk.basis == "budgets":
        return budget, None
    return budget, propose_due_at(dossier, procedure, cal, now=now, minutes_needed=risk.p90_minutes_needed)


def test_apology_proposes_the_forecast_s_p90_where_a_step_overruns(client, login, engine, settings, demo, clock):
    now = clock.now()
    generate(engine, settings, now=now, dossiers=600, seed=31, generator=OverrunGenerator)
    factory = make_sessionmaker(engine)
    live = select(Apology.dossier_id).where(Apology.status.in_(["draft", "issued"]))
    with factory() as s:
        rows = s.execute(select(Dossier, Procedure).join(Procedure, Procedure.id == Dossier.procedure_id).where(
            Dossier.clock_state == "running", Dossier.status == "processing", Dossier.current_step <= 1,
            Dossier.step_started_at.is_not(None), Dossier.id.not_in(live))).all()
        rules = {d.code: _rules(s, d, p, now, settings) for d, p in rows if not parties.is_interagency(p)}
    later = sorted(code for code, (budget, p90) in rules.items() if p90 is not None and p90 > budget)
    assert later, "no running dossier before the slow step"

    # An officer drafts ahead: the proposal is the forecast's, later than the budgets'.
    code = later[0]
    made = client.post(f"/api/v1/dossiers/{code}/apologies", headers=login("truongphong"))
    assert made.status_code == 201, made.text
    proposed = datetime.fromisoformat(made.json()["proposed_due_at"])
    assert proposed == rules[code][1] > rules[code][0]

    # The scan's drafts: the same rule (the forecast's where it has rounds, else the budgets'). Every
    # running dossier is looked at now (the generator left them with their next threshold ahead).
    with engine.begin() as conn:
        conn.execute(update(Dossier).where(Dossier.clock_state == "running").values(next_alert_at=now))
    assert scan_deadlines(factory, now=now, settings=settings).drafts > 0
    with factory() as s:
        drafted = s.execute(select(Apology, Dossier, Procedure).join(Dossier, Dossier.id == Apology.dossier_id)
                            .join(Procedure, Procedure.id == Dossier.procedure_id)
                            .where(Apology.drafted_at == now, Apology.drafted_by_id.is_(None))).all()
        checked = {"forecast": 0, "budgets": 0}
        for apology, dossier, procedure in drafted:
            if parties.is_interagency(procedure):
                continue
            budget, p90 = _rules(s, dossier, procedure, now, settings)
            assert apology.proposed_due_at == (p90 or budget), dossier.code
            checked["forecast" if p90 is not None else "budgets"] += 1
    assert checked["forecast"] > 0, checked
