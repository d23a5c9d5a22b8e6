"""The scan's `late_risk` alert (app/foresight/risk_scan.py) over a generated history."""

from __future__ import annotations

from sqlalchemy import select

from app.db import make_sessionmaker
from app.foresight.risk_scan import LATE_RISK, forget_models, scan_late_risk
from app.models import Alert, Dossier, User
from tests.foresight.history import generate


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
