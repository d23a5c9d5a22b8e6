"""Issue 12, items 12 and 13: a six-hour portal outage (frozen clock), the portal losing its state
half-way, then recovery: nothing dead, order kept, every dossier equal on both sides, the admins
alerted once, and the reconciliation finding and repairing what the messages alone could not."""

from __future__ import annotations

from sqlmodel import select

from app.models import Alert, Dossier, OutboxMessage, PortalDrift, SystemState, User
from app.portal.mapping import portal_time
from app.portal.reconcile import BACKLOG_MARKER
from app.workflows.transitions import PORTAL_STATUS
from tests.portal.outage import IDLE, alert_count, history_keys, run_outage
from tests.portal.test_sync import factory  # noqa: F401  (fixture)


def test_six_hour_outage_with_a_portal_restart_ends_with_zero_drift(factory, settings, clock, portal,  # noqa: ANN001, F811
                                                                     portal_client):  # noqa: F811
    from app.db import transaction

    with transaction(factory) as session:  # the admin has an e-mail address: the alert goes there too
        admin = session.exec(select(User).where(User.username == "admin")).one()
        admin.email = "quantri@example.vn"
        session.add(admin)
    result = run_outage(factory, settings, clock, portal, portal_client, dossiers=18, hours=6)

    # During the outage: every message kept, none dead, retries backed off to the 30-minute ceiling.
    assert result.dead_during_outage == 0 and result.tries_during_outage > 0
    assert settings.portal_retry_max_delay_seconds == 1800
    assert result.max_retry_gap_seconds <= 1800 + 2 * 60  # the ceiling, measured from the tick before
    assert result.max_attempts >= 12  # still trying after six hours (30 s, 1 min, ... then every ~30 min)
    # The admins were alerted once, at the first check past one hour, never again.
    assert sum(1 for n in result.backlog_alerts if n) == 1
    with factory() as session:
        alerts = session.exec(select(Alert, User.username).join(User, User.id == Alert.recipient_id)
                              .where(Alert.kind == "portal_backlog")).all()
        assert {username for _, username in alerts} == {"admin"}
        assert "Cổng DVCQG" in alerts[0][0].message and "503" in alerts[0][0].message
        # Recovered: the outage marker is gone, so a later outage alerts again.
        assert session.exec(select(SystemState).where(SystemState.key.startswith(BACKLOG_MARKER))).all() == []
    assert alert_count(factory) == len(alerts)
    with factory() as session:
        [mail] = session.exec(select(OutboxMessage).where(OutboxMessage.topic == "notify",
                                                          OutboxMessage.kind == "portal_backlog")).all()
        assert mail.payload["to_email"] == "quantri@example.vn" and "Cổng DVCQG" in mail.payload["text"]

    # Recovery: nothing dead; what the restarted portal lost was re-synced in full.
    # Within the 30-minute ceiling a try succeeds, and it wakes everything waiting in backoff.
    assert result.recovery_stats.dead == 0 and 1 <= result.recovery_minutes <= 30 + 2
    with factory() as session:
        rows = session.exec(select(OutboxMessage).where(OutboxMessage.topic == "portal")).all()
        assert {m.status for m in rows} <= {"sent", "superseded"}
        assert any(m.kind == "resync" for m in rows)

    # The first check finds what no message carried: the dossiers the portal lost while idle, and
    # the appointments moved by a confirmed payment; it re-syncs them and the second check finds none.
    first, second = result.first_reconcile, result.second_reconcile
    assert first is not None and second is not None
    assert first.drifted >= IDLE and first.blocked == 0 and not first.unavailable
    assert sum(1 for fields in first.drift.values() if fields == ["missing"]) == IDLE
    # A moved appointment (a confirmed payment) travels with its own message: only the lost ones drift.
    assert all(fields == ["missing"] for fields in first.drift.values())
    assert second.drifted == 0 and second.blocked == 0 and second.in_flight == 0
    assert second.checked == second.equal == result.dossiers
    assert result.mismatches == {}

    # And directly: status, appointment and every history row, each once, in motcua's order.
    same_second = 0
    with factory() as session:
        for dossier in session.exec(select(Dossier)).all():
            held = portal_client.lookup(dossier.code)
            assert held["TrangThaiHoSo"] == PORTAL_STATUS[dossier.status]
            assert held.get("NgayHenTra") == portal_time(dossier.due_at)
            keys = [r["MaQuaTrinh"] for r in held["QuaTrinhXuLy"]]
            assert sorted(keys) == sorted(history_keys(session, dossier.code)) and len(set(keys)) == len(keys)
            times = [r["ThoiDiemXuLy"] for r in held["QuaTrinhXuLy"]]
            same_second += len(times) - len(set(times))
        assert same_second > 0  # two events in the same second are two rows
        drift = session.exec(select(PortalDrift)).all()
        assert len(drift) == first.drifted and all(d.resolved_at is not None for d in drift)
