"""`feedback_on_time` against a naive Python oracle over generated feedback (both databases): the
definition of docs/FEEDBACK.md restated row by row, the application computing it in SQL."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from app.feedback.models import Feedback
from app.feedback.reports import feedback_on_time
from app.reports.periods import parse_period
from tests.conftest import VN
from tests.reports.factory import make_agency

TZ = "Asia/Ho_Chi_Minh"
NOW = datetime(2026, 11, 18, 10, 0, tzinfo=VN)  # mid-month: some November deadlines are still ahead


def oracle(rows: list[Feedback], start: datetime, end: datetime, now: datetime) -> tuple[int, int]:
    due = [f for f in rows if start <= f.due_at < end and (f.due_at < now or f.answered_at is not None)]
    return sum(1 for f in due if f.answered_at is not None and f.answered_at <= f.due_at), len(due)


def test_feedback_on_time_matches_the_oracle(session):
    agency, _ = make_agency(session)
    other, _ = make_agency(session, code="000.00.98.H98")
    rng = random.Random(15)
    rows = []
    for i in range(80):
        received = datetime(2026, 10, 1, 8, 0, tzinfo=VN) + timedelta(hours=rng.randrange(0, 24 * 75))
        due = received + timedelta(days=14)
        answered = rng.choice([None, received + timedelta(days=rng.randrange(0, 20), hours=rng.randrange(0, 9))])
        if answered is not None and answered > NOW:
            answered = None  # nothing is answered after "now"
        if i % 10 == 0:
            answered = due  # exactly at the deadline: on time
        rows.append(Feedback(reference=f"PA-TEST-{i:04d}", kind="general", agency_id=(other if i % 7 == 0 else agency).id,
                             content="Nội dung phản ánh thử.", status="answered" if answered else "new",
                             received_at=received, limit_days=10, due_at=due, due_soon_at=due - timedelta(days=1),
                             answered_at=answered, contact={}))
    session.add_all(rows)
    session.flush()
    mine = [f for f in rows if f.agency_id == agency.id]
    for key in ("2026-10", "2026-11", "2026-12", "2026-Q4", "2026"):
        period = parse_period(key, TZ)
        expected = oracle(mine, period.start, period.end, NOW)
        assert feedback_on_time(session, agency.id, period, NOW) == expected, key
    november = parse_period("2026-11", TZ)
    assert 0 < oracle(mine, november.start, november.end, NOW)[1] < sum(
        1 for f in mine if november.start <= f.due_at < november.end)  # the "not yet due" rule is exercised
    quarter = parse_period("2026-Q4", TZ)
    on_time, due = oracle(mine, quarter.start, quarter.end, NOW)
    assert 0 < on_time < due  # answered on time, late and never, all present
