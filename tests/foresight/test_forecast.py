"""Late-risk forecast from empirical step rounds (issue 17); measured in bench/late_risk_bench.py."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from app.foresight.forecast import MIN_SAMPLES, DurationModel, forecast
from app.sla.calendar import WorkingCalendar

VN = ZoneInfo("Asia/Ho_Chi_Minh")
CAL = WorkingCalendar()
WORKFLOW = [{"name": "Chuyên viên thẩm định", "role": "specialist", "budget_hours": 8},
            {"name": "Lãnh đạo phòng duyệt", "role": "leader", "budget_hours": 4},
            {"name": "Lãnh đạo Sở ký", "role": "leader", "budget_hours": 4},
            {"name": "Trả kết quả", "role": "desk", "budget_hours": 4}]


def model(slow_step: int = 1) -> DurationModel:
    m = DurationModel()
    for step in range(3):
        budget = WORKFLOW[step]["budget_hours"] * 60
        rounds = [budget // 3 + k for k in range(40)]
        if step == slow_step:
            rounds += [budget * 3 + k for k in range(20)]  # a third of its rounds overrun three times over
        m.rounds[(1, step, 7)] = sorted(rounds)
    m.resolving_step[1] = 2
    return m


def risk(m: DurationModel, *, step: int, since: str, now: str, due: str, agency: int = 7):  # noqa: ANN201
    return forecast(m, dossier_id=42, procedure_id=1, agency_id=agency, workflow=WORKFLOW, current_step=step,
                    step_started_at=datetime.fromisoformat(since).replace(tzinfo=VN),
                    due_at=datetime.fromisoformat(due).replace(tzinfo=VN),
                    now=datetime.fromisoformat(now).replace(tzinfo=VN), cal=CAL)


def test_less_time_left_means_more_risk_and_the_slow_step_is_the_cause():
    m = model()
    early = risk(m, step=0, since="2026-12-07T08:00", now="2026-12-07T09:00", due="2026-12-11T17:00")
    late = risk(m, step=0, since="2026-12-07T08:00", now="2026-12-07T09:00", due="2026-12-08T17:00")
    assert 0 <= early.probability < late.probability <= 1
    assert late.cause_step == 1 and late.cause_name == "Lãnh đạo phòng duyệt" and late.cause_overrun_minutes > 0
    assert late.basis == "history"
    assert risk(m, step=0, since="2026-12-07T08:00", now="2026-12-07T09:00", due="2026-12-08T17:00") == late


def test_a_step_running_long_raises_the_risk():
    m = model(slow_step=0)
    fresh = risk(m, step=0, since="2026-12-07T08:00", now="2026-12-07T08:30", due="2026-12-08T17:00")
    stuck = risk(m, step=0, since="2026-12-04T08:00", now="2026-12-07T08:30", due="2026-12-08T17:00")
    assert stuck.probability > fresh.probability


def test_few_samples_fall_back_to_budgets_and_a_passed_appointment_is_certain():
    m = model()
    for key in list(m.rounds):
        m.rounds[key] = m.rounds[key][:MIN_SAMPLES - 1]
    r = risk(m, step=1, since="2026-12-07T08:00", now="2026-12-07T09:00", due="2026-12-07T17:00")
    assert r.basis == "budgets" and r.median_minutes_needed == 3 * 60 + 4 * 60  # the rest of step 1, step 2
    assert r.probability == 1.0  # 7 working hours needed, 6.5 left before 17:00
    gone = risk(model(), step=1, since="2026-12-04T08:00", now="2026-12-08T09:00", due="2026-12-07T17:00")
    assert gone.probability == 1.0 and gone.minutes_left < 0
