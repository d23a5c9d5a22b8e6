"""The scan's `late_risk` alert (app/foresight/risk_scan.py) over a generated history."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from app.db import make_sessionmaker
from app.foresight.risk_scan import LATE_RISK, forget_models, scan_late_risk
from app.models import Agency, Alert, Dossier, DossierForecast, User
from tests.foresight.history import OverrunGenerator, generate


def test_late_risk_alerts_the_holder_and_leaders_once(engine, settings, demo, clock):
    generate(engine, settings, now=clock.now(), dossiers=900, seed=29)
    forget_models()  # the day's model may have been learnt from another test's database state
    factory = make_sessionmaker(engine)
    low = settings.model_copy(update={"late_risk_threshold": 0.01})
    created = scan_late_risk(factory, now=clock.now(), settings=low)
    with factory() as s:
        alerts = list(s.execute(select(Alert).where(Alert.kind == LATE_RISK)).scalars())
        assert created == len(alerts) > 0
        users = {u.id: u for u in s.execute(select(User)).scalars()}
        for alert in alerts:
            dossier = s.get(Dossier, alert.dossier_id)
            assert dossier.clock_state == "running" and dossier.due_soon_at > clock.now()  # still time to act
            assert alert.deadline_at == dossier.due_at and "nguy cơ trễ hạn" in alert.message
            assert alert.recipient_id == dossier.assignee_id or "leader" in users[alert.recipient_id].roles
        assert any("leader" in users[a.recipient_id].roles for a in alerts)
    assert scan_late_risk(factory, now=clock.now(), settings=low) == 0  # within the interval: not again
    later = clock.now().replace(minute=clock.now().minute + 1)
    again = low.model_copy(update={"late_risk_interval_minutes": 1})
    assert scan_late_risk(factory, now=later, settings=again) == 0  # once per appointment and recipient


def test_dossier_late_risk_route(client, login, engine, settings, demo, clock):
    generate(engine, settings, now=clock.now(), dossiers=900, seed=29)
    forget_models()  # the day's model may have been learnt from another test's database state
    with make_sessionmaker(engine)() as s:
        running = s.execute(select(Dossier).where(Dossier.clock_state == "running",
                                                  Dossier.current_step.is_not(None))).scalars().first()
        paused = s.execute(select(Dossier).where(Dossier.clock_state != "running")).scalars().first()
    out = client.get(f"/api/v1/dossiers/{running.code}/late-risk", headers=login("truongphong")).json()
    assert out["forecast"] is True and 0 <= out["probability"] <= 1 and out["basis"] in ("history", "mixed")
    assert out["due_at"].endswith("+07:00") and out["expected_ready_at"].endswith("+07:00")
    assert out["threshold"] == settings.late_risk_threshold
    other = client.get(f"/api/v1/dossiers/{paused.code}/late-risk", headers=login("motcua")).json()
    assert other["forecast"] is False and other["reason"]
    assert client.get(f"/api/v1/dossiers/{running.code}/late-risk",
                      headers=login("other_leader")).status_code == 404


def test_the_scan_stores_forecasts_that_the_dossier_and_the_at_risk_list_show(client, login, engine, settings, demo,
                                                                              clock):
    generate(engine, settings, now=clock.now(), dossiers=600, seed=31, generator=OverrunGenerator)
    factory = make_sessionmaker(engine)
    with factory() as s:
        before = {d.id: (d.version, d.updated_at) for d in s.execute(select(Dossier)).scalars()}
    scan_late_risk(factory, now=clock.now(), settings=settings)
    with factory() as s:
        stored = {f.dossier_id: f for f in s.execute(select(DossierForecast)).scalars()}
        dossiers = {d.id: d for d in s.execute(select(Dossier)).scalars()}
    assert stored and all(f.computed_at == clock.now() for f in stored.values())
    # Stored apart: no dossier's version or updated_at moved (optimistic locking, report watermark).
    assert {i: (d.version, d.updated_at) for i, d in dossiers.items()} == before
    at_risk = {i for i, f in stored.items() if f.basis != "budgets" and f.probability > settings.late_risk_threshold}
    assert at_risk

    # The staff dossier detail carries the stored forecast.
    first = max(at_risk, key=lambda i: (stored[i].probability, -i))
    detail = client.get(f"/api/v1/dossiers/{dossiers[first].code}", headers=login("truongphong")).json()
    risk = detail["late_risk"]
    assert risk["probability"] == stored[first].probability and risk["basis"] in ("history", "mixed")
    assert risk["cause_name"] == stored[first].cause_name and risk["computed_at"].endswith("+07:00")

    # The dashboard's list: the agency's dossiers at risk, most at risk first; a division's own.
    listed = client.get("/api/v1/analysis/at-risk", params={"limit": 200}, headers=login("baocao")).json()
    assert listed["threshold"] == settings.late_risk_threshold
    probabilities = [i["probability"] for i in listed["items"]]
    assert probabilities == sorted(probabilities, reverse=True) and len(probabilities) == min(200, len(at_risk))
    assert {i["code"] for i in listed["items"]} <= {dossiers[i].code for i in at_risk}
    assert listed["items"][0]["procedure_name"] and listed["items"][0]["due_at"].endswith("+07:00")
    division = client.get("/api/v1/analysis/at-risk", params={"limit": 200, "division": "QLCL"},
                          headers=login("truongphong")).json()["items"]
    with factory() as s:
        qlcl = s.execute(select(Agency.id).where(Agency.code == "000.00.17.H26.QLCL")).scalar_one()
    assert {i["code"] for i in division} <= {dossiers[i].code for i in at_risk if dossiers[i].assigned_division_id == qlcl}
    assert client.get("/api/v1/analysis/at-risk", headers=login("other_leader")).json()["items"] == []

    # A dossier whose clock stops is not shown at once, and the next pass deletes its row.
    with engine.begin() as conn:
        conn.execute(update(Dossier).where(Dossier.id == first).values(clock_state="paused"))
    assert client.get(f"/api/v1/dossiers/{dossiers[first].code}", headers=login("truongphong")).json()["late_risk"] is None
    later = clock.now() + timedelta(minutes=2)
    scan_late_risk(factory, now=later, settings=settings.model_copy(update={"late_risk_interval_minutes": 1}))
    with factory() as s:
        assert s.get(DossierForecast, first) is None
        assert s.execute(select(DossierForecast.computed_at).distinct()).scalars().all() == [later]
