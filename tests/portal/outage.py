"""A long national-portal outage, simulated with a frozen clock (used by tests/portal/test_outage.py
and bench/portal_outage.py).

The demo Department takes dossiers in and moves them along their life while the portal answers
503 to everything for `hours`; half-way the portal also restarts and loses every dossier it held.
The scheduler's portal jobs (dispatch, backlog alert) run every `tick_minutes` of simulated time.
Then the portal comes back: the dispatcher drains the queue (ticks until nothing is pending), the
reconciliation reads every dossier back, re-syncs the ones that differ, and a second pass must find
no drift at all.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from app.db import transaction
from app.models import Alert, Dossier, DossierEvent, OutboxMessage
from app.outbox import DispatchStats
from app.portal.client import PortalClient
from app.portal.reconcile import ReconcileReport, check_backlog, differences, expected, reconcile_portal
from app.portal.sync import dispatch_portal
from app.settings import Settings
from tests.portal.test_sync import LIFE, act, intake

BEFORE = 6  # dossiers synced before the outage (the portal then loses them)
IDLE = 2  # of those, untouched during the outage
PAID = 5  # LIFE steps up to payment_confirmed


@dataclass
class OutageResult:
    dossiers: int = 0
    actions: int = 0
    messages: int = 0  # portal outbox rows written before recovery
    tries_during_outage: int = 0
    dead_during_outage: int = 0
    max_attempts: int = 0
    max_retry_gap_seconds: float = 0.0  # largest planned wait between two tries of a message
    backlog_alerts: list[int] = field(default_factory=list)  # alerts written by each backlog check
    recovery_ticks: int = 0  # dispatcher ticks until nothing was pending
    recovery_minutes: int = 0  # the same in simulated time
    recovery_seconds: float = 0.0  # wall time of the drain
    recovery_stats: DispatchStats = field(default_factory=DispatchStats)
    first_reconcile: ReconcileReport | None = None
    second_reconcile: ReconcileReport | None = None
    mismatches: dict[str, list[str]] = field(default_factory=dict)  # after recovery, compared directly


def tick(factory: Any, settings: Settings, now: datetime, client: PortalClient, seed: int) -> DispatchStats:
    total = DispatchStats()
    while True:  # the real dispatcher runs every 10 s; a tick sends everything due
        stats = dispatch_portal(factory, settings, now, client, rng=random.Random(seed))
        total += stats
        if stats.processed == 0:
            return total


def pending_portal(factory: Any) -> int:
    with factory() as session:
        return session.execute(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.topic == "portal", OutboxMessage.status == "pending")).scalar_one()


def compare_all(factory: Any, client: PortalClient) -> dict[str, list[str]]:
    """Every dossier, read back from the portal, against motcua (status, appointments, history rows)."""
    with factory() as session:
        dossiers = session.execute(select(Dossier).order_by(Dossier.id)).scalars().all()
        ours = {d.code: expected(session, d) for d in dossiers}
    result = {}
    for code, view in ours.items():
        fields = differences(view, client.lookup(code))
        if fields:
            result[code] = fields
    return result


def history_keys(session: Session, code: str) -> list[str]:
    events = session.execute(select(DossierEvent.seq).join(Dossier, Dossier.id == DossierEvent.dossier_id)
                             .where(Dossier.code == code).order_by(DossierEvent.seq)).scalars().all()
    return [f"{code}.{seq}" for seq in events]


def run_outage(factory: Any, settings: Settings, clock: Any, portal: Any, client: PortalClient, *,
               dossiers: int = 24, hours: int = 6, tick_minutes: int = 2, step_minutes: int = 20) -> OutageResult:
    result = OutageResult(dossiers=dossiers)
    start = clock.now().replace(hour=1, minute=0)  # 08:00 in Hà Nội
    clock.set(start)
    codes: list[str] = []
    with transaction(factory) as session:
        for n in range(BEFORE):
            codes.append(intake(session, settings, clock.now(), n).code)
    tick(factory, settings, clock.now(), client, 0)  # these reach the portal

    down_at = clock.advance(minutes=30)
    portal.post("/_control/faults", json={"fail_rate": 1.0})
    back_at = down_at + timedelta(hours=hours)
    reset_at = down_at + timedelta(hours=hours / 2)
    progress = {code: 0 for code in codes}  # next LIFE step per dossier
    next_step_at = down_at
    n = BEFORE
    tick_no = 0
    was_reset = False
    while clock.now() < back_at:
        now = clock.now()
        if not was_reset and now >= reset_at:  # the portal restarts: everything it held is lost
            portal.post("/_control/reset")
            portal.post("/_control/faults", json={"fail_rate": 1.0})
            was_reset = True
        if now >= next_step_at:
            next_step_at = now + timedelta(minutes=step_minutes)
            with transaction(factory) as session:
                if n < dossiers:  # a few new dossiers each round
                    for _ in range(min(3, dossiers - n)):
                        code = intake(session, settings, now, n).code
                        codes.append(code)
                        progress[code] = 0
                        n += 1
                for i, code in enumerate(codes):
                    if i < IDLE:  # synced before the outage, then lost by the portal: only a check finds it
                        continue
                    # Every fourth dossier stops after its payment is confirmed (a new appointment that
                    # only the next full record would carry); every third takes two steps in one second.
                    last = PAID if i % 4 == 1 else len(LIFE)
                    for _ in range(2 if i % 3 == 0 else 1):
                        step = progress[code]
                        if step >= last:
                            break
                        username, action, body = LIFE[step]
                        act(session, settings, now, code, username, action, **body)
                        progress[code] = step + 1
                        result.actions += 1
        stats = tick(factory, settings, now, client, tick_no)
        result.tries_during_outage += stats.retried + stats.sent + stats.dead
        result.dead_during_outage += stats.dead
        assert stats.sent == 0, "the portal is down"
        result.backlog_alerts.append(check_backlog(factory, settings, now))
        tick_no += 1
        clock.advance(minutes=tick_minutes)

    with factory() as session:
        rows = session.execute(select(OutboxMessage).where(OutboxMessage.topic == "portal")).scalars().all()
        result.messages = len(rows)
        result.max_attempts = max(m.attempts for m in rows)
        result.max_retry_gap_seconds = max(
            ((m.next_attempt_at - m.created_at).total_seconds() for m in rows if m.attempts == 1), default=0.0)
        # Planned wait after the last failure, relative to the tick that failed (at most one tick earlier).
        last_tick = clock.now() - timedelta(minutes=tick_minutes)
        result.max_retry_gap_seconds = max(
            [result.max_retry_gap_seconds]
            + [(m.next_attempt_at - last_tick).total_seconds() for m in rows if m.status == "pending" and m.attempts])

    portal.post("/_control/faults", json={"fail_rate": 0.0})  # the portal is back
    started = time.perf_counter()
    while pending_portal(factory):
        result.recovery_stats += tick(factory, settings, clock.now(), client, tick_no)
        result.backlog_alerts.append(check_backlog(factory, settings, clock.now()))
        result.recovery_ticks += 1
        tick_no += 1
        clock.advance(minutes=tick_minutes)
        assert result.recovery_ticks < 1000, "the queue does not drain"
    result.recovery_seconds = time.perf_counter() - started
    result.recovery_minutes = result.recovery_ticks * tick_minutes

    result.first_reconcile = reconcile_portal(factory, settings, clock.now(), client)
    tick(factory, settings, clock.now(), client, tick_no)  # the re-syncs it queued
    clock.advance(minutes=tick_minutes)
    result.second_reconcile = reconcile_portal(factory, settings, clock.now(), client)
    result.mismatches = compare_all(factory, client)
    return result


def alert_count(factory: Any) -> int:
    with factory() as session:
        return session.execute(select(func.count()).select_from(Alert).where(Alert.kind == "portal_backlog")
                               ).scalar_one()
