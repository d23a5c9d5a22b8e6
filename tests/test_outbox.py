"""The outbox engine: order per dossier, backoff, dead letter, requeue, concurrent dispatchers."""

from __future__ import annotations

import random
import threading
from datetime import datetime, timedelta

import pytest
from sqlmodel import select

from app.db import make_sessionmaker, transaction
from app.effects import Context
from app.errors import Conflict, NotFound
from app.models import OutboxMessage
from app.outbox import (DispatchStats, PermanentError, RetryableError, backoff_delay, dispatch_pending,
                        requeue)
from app.workflows import intake
from app.workflows.schemas import OnlineSubmissionIn

TOPIC = "test"


@pytest.fixture
def factory(engine, demo):  # noqa: ANN001, ANN201
    return make_sessionmaker(engine)


def make_dossiers(factory, settings, now: datetime, count: int) -> list[int]:  # noqa: ANN001
    ids = []
    ctx = Context(None, now, settings)
    with transaction(factory) as session:
        for i in range(count):
            dossier, _ = intake.submit_online(session, OnlineSubmissionIn(
                portal_id=f"OUTBOX-{i}", procedure_code="2.001914", agency_code="000.00.17.H26",
                applicant={"full_name": "Người Thử", "id_number": f"0010990{i:05d}"}, submitted_at=now), ctx)
            ids.append(dossier.id)
    return ids


def enqueue(factory, now: datetime, dossier_ids: list[int | None], *, topic: str = TOPIC) -> list[int]:  # noqa: ANN001
    with transaction(factory) as session:
        rows = [OutboxMessage(topic=topic, kind="k", dossier_id=d, payload={"n": i}, status="pending",
                              next_attempt_at=now, created_at=now) for i, d in enumerate(dossier_ids)]
        session.add_all(rows)
        session.flush()
        return [row.id for row in rows]


def load(factory, ids: list[int]) -> list[OutboxMessage]:  # noqa: ANN001
    with factory() as session:
        rows = session.exec(select(OutboxMessage).where(OutboxMessage.id.in_(ids)).order_by(OutboxMessage.id)).all()
        return list(rows)


class Recorder:
    """A handler that records what it sent and fails on demand."""

    def __init__(self) -> None:
        self.sent: list[int] = []
        self.fail: dict[int, type[Exception]] = {}
        self.lock = threading.Lock()

    def __call__(self, session, message: OutboxMessage) -> None:  # noqa: ANN001
        error = self.fail.get(message.id)
        if error is not None:
            raise error(f"lỗi thử nghiệm {message.id}")
        with self.lock:
            self.sent.append(message.id)


def test_sends_oldest_first_and_marks_sent(factory, settings, clock):  # noqa: ANN001
    now = clock.now()
    d1, d2 = make_dossiers(factory, settings, now, 2)
    ids = enqueue(factory, now, [d1, d2, None, d1])
    recorder = Recorder()
    stats = dispatch_pending(factory, topic=TOPIC, handler=recorder, now=now)
    assert stats == DispatchStats(sent=4, retried=0, dead=0, skipped=0)
    assert recorder.sent == ids
    assert all(m.status == "sent" and m.sent_at == now for m in load(factory, ids))
    # Other topics are untouched (the workflow wrote portal/notify rows of its own).
    with factory() as session:
        others = session.exec(select(OutboxMessage).where(OutboxMessage.topic != TOPIC)).all()
    assert others and all(m.status == "pending" for m in others)
    assert dispatch_pending(factory, topic=TOPIC, handler=recorder, now=now) == DispatchStats(0, 0, 0, 0)


def test_not_yet_due_and_batch_limit(factory, settings, clock):  # noqa: ANN001
    now = clock.now()
    ids = enqueue(factory, now + timedelta(minutes=5), [None, None, None])
    recorder = Recorder()
    assert dispatch_pending(factory, topic=TOPIC, handler=recorder, now=now).sent == 0
    later = now + timedelta(minutes=5)
    assert dispatch_pending(factory, topic=TOPIC, handler=recorder, now=later, batch=2).sent == 2
    assert recorder.sent == ids[:2]
    assert dispatch_pending(factory, topic=TOPIC, handler=recorder, now=later, batch=2).sent == 1


def test_older_pending_message_blocks_its_dossier_only(factory, settings, clock):  # noqa: ANN001
    now = clock.now()
    d1, d2 = make_dossiers(factory, settings, now, 2)
    first, second, other, third = enqueue(factory, now, [d1, d1, d2, d1])
    recorder = Recorder()
    recorder.fail[first] = RetryableError
    stats = dispatch_pending(factory, topic=TOPIC, handler=recorder, now=now, rng=random.Random(1))
    assert stats.retried == 1 and stats.sent == 1 and stats.skipped == 2
    assert recorder.sent == [other]
    # Still in backoff: the dossier's newer messages wait, and do not fill the batch.
    assert dispatch_pending(factory, topic=TOPIC, handler=recorder, now=now + timedelta(seconds=1)).processed == 0
    del recorder.fail[first]
    stats = dispatch_pending(factory, topic=TOPIC, handler=recorder, now=now + timedelta(hours=1))
    assert stats.sent == 3
    assert recorder.sent == [other, first, second, third]


def test_backlog_behind_a_stuck_dossier_does_not_starve_others(factory, settings, clock):  # noqa: ANN001
    now = clock.now()
    d1, d2 = make_dossiers(factory, settings, now, 2)
    stuck = enqueue(factory, now, [d1] * 5)
    recorder = Recorder()
    recorder.fail[stuck[0]] = RetryableError
    dispatch_pending(factory, topic=TOPIC, handler=recorder, now=now, batch=5)
    fresh = enqueue(factory, now, [d2])
    stats = dispatch_pending(factory, topic=TOPIC, handler=recorder, now=now + timedelta(seconds=1), batch=2)
    assert stats.sent == 1 and recorder.sent == fresh


def test_backoff_grows_with_jitter_and_cap(factory, settings, clock):  # noqa: ANN001
    rng = random.Random(7)
    for attempts in range(1, 12):
        delay = backoff_delay(attempts, base_delay_seconds=30, max_delay_seconds=3600, rng=rng).total_seconds()
        nominal = min(3600, 30 * 2 ** (attempts - 1))
        assert 0.5 * nominal <= delay <= min(3600, 1.5 * nominal)

    now = clock.now()
    [message_id] = enqueue(factory, now, [None])
    recorder = Recorder()
    recorder.fail[message_id] = RetryableError
    at = now
    for attempt in range(1, 4):
        stats = dispatch_pending(factory, topic=TOPIC, handler=recorder, now=at, rng=random.Random(attempt),
                                 base_delay_seconds=10)
        assert stats.retried == 1
        [row] = load(factory, [message_id])
        assert row.attempts == attempt and row.status == "pending"
        assert row.last_error == f"lỗi thử nghiệm {message_id}"
        wait = (row.next_attempt_at - at).total_seconds()
        assert 0.5 * 10 * 2 ** (attempt - 1) <= wait <= 1.5 * 10 * 2 ** (attempt - 1)
        # Not due a moment before the planned time.
        assert dispatch_pending(factory, topic=TOPIC, handler=recorder,
                                now=row.next_attempt_at - timedelta(seconds=1)).processed == 0
        at = row.next_attempt_at


def test_dead_after_max_attempts(factory, settings, clock):  # noqa: ANN001
    now = clock.now()
    [message_id] = enqueue(factory, now, [None])
    recorder = Recorder()
    recorder.fail[message_id] = RetryableError
    at = now
    for _ in range(3):
        stats = dispatch_pending(factory, topic=TOPIC, handler=recorder, now=at, max_attempts=3)
        at += timedelta(days=1)
    assert stats.dead == 1
    [row] = load(factory, [message_id])
    assert row.status == "dead" and row.attempts == 3


def test_permanent_error_dead_letters_at_once_and_never_blocks(factory, settings, clock):  # noqa: ANN001
    now = clock.now()
    [d1] = make_dossiers(factory, settings, now, 1)
    bad, good = enqueue(factory, now, [d1, d1])
    recorder = Recorder()
    recorder.fail[bad] = PermanentError
    stats = dispatch_pending(factory, topic=TOPIC, handler=recorder, now=now)
    assert stats.dead == 1 and stats.sent == 1
    assert recorder.sent == [good]
    bad_row, good_row = load(factory, [bad, good])
    assert bad_row.status == "dead" and bad_row.attempts == 1 and "lỗi thử nghiệm" in bad_row.last_error
    assert good_row.status == "sent"


def test_unexpected_handler_exception_is_retried(factory, settings, clock):  # noqa: ANN001
    now = clock.now()
    [message_id] = enqueue(factory, now, [None])
    recorder = Recorder()
    recorder.fail[message_id] = KeyError
    assert dispatch_pending(factory, topic=TOPIC, handler=recorder, now=now).retried == 1


def test_failed_handler_writes_are_rolled_back(factory, settings, clock):  # noqa: ANN001
    now = clock.now()
    [d1] = make_dossiers(factory, settings, now, 1)
    [message_id] = enqueue(factory, now, [d1])

    def handler(session, message):  # noqa: ANN001
        from app.models import Dossier

        dossier = session.get(Dossier, message.dossier_id)
        dossier.note = "changed"
        session.add(dossier)
        session.flush()
        raise RetryableError("portal down")

    assert dispatch_pending(factory, topic=TOPIC, handler=handler, now=now).retried == 1
    with factory() as session:
        from app.models import Dossier

        assert session.get(Dossier, d1).note is None
        assert session.get(OutboxMessage, message_id).last_error == "portal down"


def test_requeue(factory, settings, clock):  # noqa: ANN001
    now = clock.now()
    [message_id] = enqueue(factory, now, [None])
    recorder = Recorder()
    recorder.fail[message_id] = PermanentError
    dispatch_pending(factory, topic=TOPIC, handler=recorder, now=now)
    with transaction(factory) as session:
        with pytest.raises(NotFound):
            requeue(session, 999_999, now=now)
    later = now + timedelta(minutes=1)
    with transaction(factory) as session:
        row = requeue(session, message_id, now=later)
        assert row.status == "pending" and row.attempts == 0 and row.next_attempt_at == later
    with transaction(factory) as session:
        with pytest.raises(Conflict):
            requeue(session, message_id, now=later)
    del recorder.fail[message_id]
    assert dispatch_pending(factory, topic=TOPIC, handler=recorder, now=later).sent == 1


def test_two_concurrent_dispatchers_never_double_send(factory, settings, clock, db_kind):  # noqa: ANN001
    now = clock.now()
    dossiers = make_dossiers(factory, settings, now, 10)
    ids = enqueue(factory, now, [dossiers[i % 10] for i in range(200)])
    sent: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(2)
    in_flight: set[int] = set()
    overlaps: list[int] = []

    def handler(session, message):  # noqa: ANN001
        with lock:
            if message.dossier_id in in_flight:
                overlaps.append(message.dossier_id)
            in_flight.add(message.dossier_id)
        # Give the other dispatcher a chance to try the same row or the same dossier.
        threading.Event().wait(0.001)
        with lock:
            in_flight.discard(message.dossier_id)
            sent.append(message.id)

    errors: list[BaseException] = []
    totals: list[DispatchStats] = []

    def run() -> None:
        try:
            barrier.wait()
            total = DispatchStats()
            for _ in range(200):
                stats = dispatch_pending(factory, topic=TOPIC, handler=handler, now=now, batch=50)
                total += stats
                if stats.processed == 0 and stats.skipped == 0:
                    break
            totals.append(total)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert sorted(sent) == ids, "every message sent exactly once"
    assert len(sent) == len(set(sent))
    assert not overlaps, "two messages of one dossier were in flight at once"
    for dossier_id in dossiers:
        mine = [i for i in sent if i in set(ids[dossiers.index(dossier_id)::10])]
        assert mine == sorted(mine), "per-dossier order kept"
    assert sum(t.sent for t in totals) == 200
    assert all(m.status == "sent" for m in load(factory, ids))


def test_strict_order_a_dead_message_holds_its_dossier_back(factory, settings, clock):  # noqa: ANN001
    now = clock.now()
    d1, d2 = make_dossiers(factory, settings, now, 2)
    bad, behind, other = enqueue(factory, now, [d1, d1, d2])
    recorder = Recorder()
    recorder.fail[bad] = PermanentError
    stats = dispatch_pending(factory, topic=TOPIC, handler=recorder, now=now, strict_order=True)
    assert stats.dead == 1 and stats.sent == 1 and recorder.sent == [other]
    # Rounds later the message behind the dead one still waits, untried.
    for hours in (1, 24):
        assert dispatch_pending(factory, topic=TOPIC, handler=recorder, now=now + timedelta(hours=hours),
                                strict_order=True).processed == 0
    assert [(m.status, m.attempts) for m in load(factory, [behind])] == [("pending", 0)]
    # Requeued (and now accepted), the dead one goes first, then the one behind it.
    del recorder.fail[bad]
    with transaction(factory) as session:
        requeue(session, bad, now=now)
    assert dispatch_pending(factory, topic=TOPIC, handler=recorder, now=now, strict_order=True).sent == 2
    assert recorder.sent == [other, bad, behind]


def test_without_max_attempts_a_transient_failure_is_retried_for_ever_within_the_ceiling(
        factory, settings, clock):  # noqa: ANN001
    now = clock.now()
    [d1] = make_dossiers(factory, settings, now, 1)
    first, second = enqueue(factory, now, [d1, d1])
    recorder = Recorder()
    recorder.fail[first] = RetryableError
    at = now
    for _ in range(40):  # far beyond any max_attempts; 2^39 × 30 s would be centuries uncapped
        stats = dispatch_pending(factory, topic=TOPIC, handler=recorder, now=at, max_attempts=None,
                                 base_delay_seconds=30, max_delay_seconds=1800, rng=random.Random(3),
                                 strict_order=True)
        assert stats.dead == 0 and stats.retried == 1
        [row] = load(factory, [first])
        assert row.status == "pending"
        assert (row.next_attempt_at - at) <= timedelta(seconds=1800)  # the ceiling, jitter included
        at = row.next_attempt_at
    assert row.attempts == 40 and recorder.sent == []
    del recorder.fail[first]
    assert dispatch_pending(factory, topic=TOPIC, handler=recorder, now=at, max_attempts=None,
                            strict_order=True).sent == 2
    assert recorder.sent == [first, second]
