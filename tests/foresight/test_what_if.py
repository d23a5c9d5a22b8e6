"""What-if replay of a time limit over a generated year (issue 17, docs/FORESIGHT.md)."""

from __future__ import annotations

import io
import math

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from app.db import make_sessionmaker
from app.foresight import replay
from app.models import Dossier, Procedure
from app.reports.periods import parse_period
from app.sla import service as sla
from tests.foresight.history import generate

PERIOD = {"from": "2025-12-01", "to": "2026-11-22"}


@pytest.fixture
def history(engine, settings, demo, clock):  # noqa: ANN001, ANN201
    generate(engine, settings, now=clock.now(), dossiers=400)
    factory = make_sessionmaker(engine)
    with factory() as s:  # the busiest procedure
        pid, _ = s.execute(select(Dossier.procedure_id, func.count()).where(Dossier.resolved_at.is_not(None))
                           .group_by(Dossier.procedure_id).order_by(func.count().desc(), Dossier.procedure_id)
                           ).first()
        return s.get(Procedure, pid)


def body(procedure: Procedure, value: int, unit: str = "working_days", **extra) -> dict:  # noqa: ANN003
    return {"procedure_code": procedure.code, **PERIOD, "time_limit": {"value": value, "unit": unit}, **extra}


def test_replay_at_the_current_limit_reproduces_the_recorded_outcomes(client, login, history):
    response = client.post("/api/v1/analysis/what-if", headers=login("baocao"),
                           json=body(history, history.time_limit_value, history.time_limit_unit))
    assert response.status_code == 200, response.text
    out = response.json()
    assert out["dossiers"] > 20
    recorded, current, proposed = out["recorded"], out["current"], out["proposed"]
    assert (current["early"], current["on_time"], current["late"]) == \
        (recorded["early"], recorded["on_time"], recorded["late"])
    if not history.same_day_cutoff:  # a cut-off rule is replayed as recorded, the proposal as a plain limit
        assert proposed == current
    assert out["procedure"]["code"] == history.code
    assert out["period"]["start"].endswith("+07:00")


def test_a_shorter_limit_makes_more_dossiers_late(client, login, history):
    lates = []
    for days in (1, 2, history.time_limit_value, history.time_limit_value * 2):
        out = client.post("/api/v1/analysis/what-if", headers=login("truongphong"),
                          json=body(history, days)).json()
        p = out["proposed"]
        assert p["early"] + p["on_time"] + p["late"] == p["total"] == out["dossiers"]
        if p["late"]:
            assert p["late_hours_total"] > 0 and p["late_hours_max"] >= p["late_hours_mean"] > 0
        lates.append(p["late"])
    assert lates == sorted(lates, reverse=True) and lates[0] > lates[-1]


def test_counting_used_time_agrees_with_the_exact_replay(engine, settings, history):
    """The search counts used working time; for every limit that count must equal the replay
    through compute_due_at / classify_outcome."""
    factory = make_sessionmaker(engine)
    with factory() as s:
        cal = sla.calendar_for(s, history.agency_id, settings)
        period = parse_period(None, settings.timezone, from_=__import__("datetime").date(2025, 12, 1),
                              to=__import__("datetime").date(2026, 11, 22))
        cases = replay.load_cases(s, agency_id=history.agency_id, procedure_id=history.id, period=period, cal=cal)
    used = sorted(c.used for c in cases)
    for minutes in sorted({60, 240, 480, 600, 960, 1440, 2400, 3840, *used[::7]}):
        exact = replay.replay(cases, minutes, settings.timezone)
        assert exact.late == sum(1 for u in used if u > minutes), minutes
        assert math.isclose(exact.on_time_share, replay.share_within(used, minutes))


def test_shortest_limit_reaches_the_target_and_an_hour_less_does_not(client, login, engine, settings, history):
    out = client.post("/api/v1/analysis/what-if", headers=login("baocao"),
                      json=body(history, 1, target_share=0.9)).json()
    shortest = out["shortest"]
    assert shortest["target_share"] == 0.9 and shortest["on_time_share"] >= 0.9
    hours = shortest["limit"]["minutes"] // 60
    below = client.post("/api/v1/analysis/what-if", headers=login("baocao"),
                        json=body(history, hours - 1, "working_hours") if hours > 1 else body(history, 1)).json()
    if hours > 1:
        assert below["proposed"]["on_time_share"] < 0.9
    at = client.post("/api/v1/analysis/what-if", headers=login("baocao"),
                     json=body(history, hours, "working_hours")).json()
    assert at["proposed"]["on_time_share"] == shortest["on_time_share"]
    assert shortest["limit_days"]["minutes"] >= shortest["limit"]["minutes"]
    shares = [p["on_time_share"] for p in out["curve"]]
    assert shares == sorted(shares) and shares[-1] == 1.0


def test_step_budgets(client, login, history):
    steps = len(history.workflow)
    out = client.post("/api/v1/analysis/what-if", headers=login("baocao"),
                      json=body(history, 5, step_budgets=[{"step": 1, "budget_hours": 1}])).json()
    assert [s["step"] for s in out["steps"]] == list(range(steps))
    one = out["steps"][1]
    assert one["samples"] > 0 and one["new_budget_hours"] == 1
    assert one["over_new_budget"] >= one["over_budget"]
    assert out["steps"][0]["over_new_budget"] is None
    bad = client.post("/api/v1/analysis/what-if", headers=login("baocao"),
                      json=body(history, 5, step_budgets=[{"step": steps, "budget_hours": 1}]))
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_step"


def test_xlsx_holds_the_same_counts(client, login, history):
    headers = login("baocao")
    out = client.post("/api/v1/analysis/what-if", headers=headers, json=body(history, 2)).json()
    response = client.post("/api/v1/analysis/what-if.xlsx", headers=headers, json=body(history, 2))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    wb = load_workbook(io.BytesIO(response.content))
    rows = {r[0]: r for r in wb.worksheets[0].iter_rows(values_only=True) if r and r[0]}
    proposed = rows["Tính lại, thời hạn mới"]
    assert proposed[2:6] == (out["proposed"]["total"], out["proposed"]["early"], out["proposed"]["on_time"],
                             out["proposed"]["late"])
    assert wb.sheetnames == ["Tính lại thời hạn", "Tỷ lệ theo thời hạn", "Các bước"]


def test_bad_requests_and_scope(client, login, history):
    headers = login("baocao")
    missing = client.post("/api/v1/analysis/what-if", headers=headers, json={**body(history, 2),
                                                                            "procedure_code": "9.999999"})
    assert missing.status_code == 404 and missing.json()["code"] == "procedure_not_found"
    other = client.post("/api/v1/analysis/what-if", headers=login("other_reporter"), json=body(history, 2))
    assert other.status_code == 404
    for wrong in ({"target_share": 0}, {"target_share": 1.5}, {"time_limit": {"value": 0, "unit": "working_days"}},
                  {"time_limit": {"value": 3, "unit": "weeks"}}, {"period": "2026-Q9", "from": None, "to": None}):
        response = client.post("/api/v1/analysis/what-if", headers=headers, json={**body(history, 2), **wrong})
        assert response.status_code == 422, (wrong, response.text)
        assert response.json()["message"]
    assert client.post("/api/v1/analysis/what-if", headers=login("chuyenvien"), json=body(history, 2)).status_code == 403


def test_an_empty_period_answers_zero(client, login, history):
    out = client.post("/api/v1/analysis/what-if", headers=login("baocao"),
                      json={**body(history, 2), "from": "2020-01-01", "to": "2020-01-31"}).json()
    assert out["dossiers"] == 0 and out["proposed"]["on_time_share"] is None
    assert out["shortest"]["limit"] is None and out["curve"] == []
