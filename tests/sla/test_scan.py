"""The deadline scan, the daily digest and the scheduler process, on both databases.

Procedure 1.005092 (8 working hours; steps: specialist 4 h in the division, Department leader
2 h, desk 2 h) received Monday 23/11/2026 09:00 — Tuesday 24/11 is Vietnam Culture Day — is due
Wednesday 25/11 09:00; due soon a quarter of its limit before (2 working hours: Monday 16:30), never
at receipt. Forwarded to the specialist at 09:00, its first step is due Monday 14:30 and due soon
(2 working hours before) at 11:00; once that step overruns (14:31) the work left exceeds the time
left and the apology is drafted.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import text, update
from sqlmodel import select

from app.channels.senders import RecordingSender, Senders
from app.clock import FrozenClock
from app.db import transaction
from app.models import Alert, Apology, Dossier, OutboxMessage, User
from app.sla.scan import scan_deadlines, send_daily_digest
from app.sla.scheduler import JOB_IDS, build_scheduler, run_daily_digest, run_deadline_scan, run_notify_dispatch
from tests.conftest import VN, make_settings
from tests.workflows.test_scenarios import act, ready, receive

SHORT = "1.005092"  # 8 working hours
LONG = "2.001914"  # 5 working days


def at(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=VN)


def scan(app, clock):  # noqa: ANN001, ANN201
    return scan_deadlines(app.state.sessionmaker, now=clock.now(), settings=app.state.settings)


def alerts(app) -> set[tuple[str, str, str, str]]:  # noqa: ANN001
    """(dossier code, kind, deadline as dd/mm HH:MM local, recipient username) of every alert."""
    with app.state.sessionmaker() as s:
        rows = s.exec(select(Dossier.code, Alert.kind, Alert.deadline_at, User.username)
                      .join(Dossier, Dossier.id == Alert.dossier_id).join(User, User.id == Alert.recipient_id)).all()
    return {(code, kind, deadline.astimezone(VN).strftime("%d/%m %H:%M"), user) for code, kind, deadline, user in rows}


def alert_count(app) -> int:  # noqa: ANN001
    with app.state.sessionmaker() as s:
        return len(s.exec(select(Alert.id)).all())


def dossier_row(app, code: str) -> Dossier:  # noqa: ANN001
    with app.state.sessionmaker() as s:
        return s.exec(select(Dossier).where(Dossier.code == code)).one()


def apologies_of(app, code: str) -> list[Apology]:  # noqa: ANN001
    with app.state.sessionmaker() as s:
        return list(s.exec(select(Apology).join(Dossier, Dossier.id == Apology.dossier_id)
                           .where(Dossier.code == code).order_by(Apology.id)).all())


def plain_limit(client, login) -> None:  # noqa: ANN001
    """Set 1.005092's same-day cut-off (15:00) aside: these tests time its plain 8-hour limit."""
    response = client.patch(f"/api/v1/procedures/{SHORT}", json={"same_day_cutoff": None}, headers=login("admin"))
    assert response.status_code == 200, response.text


def forwarded(client, login, code: str = SHORT, assignee: str = "chuyenvien") -> dict:  # noqa: ANN001
    if code == SHORT:
        plain_limit(client, login)
    dossier = receive(client, login, code)
    return act(client, login("motcua"), dossier, "forward", assignee=assignee)


def local(value: datetime | None) -> str | None:
    return value.astimezone(VN).strftime("%d/%m %H:%M") if value else None


def expected(code: str, kind: str, deadline: str, *users: str) -> set[tuple[str, str, str, str]]:
    return {(code, kind, deadline, u) for u in users}


# --- alerts ------------------------------------------------------------------------------------

def test_alerts_raised_once_each_to_the_right_people(client, login, app, clock):
    dossier = forwarded(client, login)
    code = dossier["code"]
    assert local(datetime.fromisoformat(dossier["due_at"])) == "25/11 09:00"
    assert local(datetime.fromisoformat(dossier["step_due_at"])) == "23/11 14:30"

    stats = scan(app, clock)  # Monday 09:00: nothing yet (a same-day procedure is not due soon at receipt)
    assert (stats.alerts, stats.drafts) == (0, 0)
    assert local(dossier_row(app, code).next_alert_at) == "23/11 11:00"  # the step's due-soon moment

    clock.set(at(23, 10, 59))
    assert scan(app, clock).dossiers == 0  # nothing due: the range scan reads no row
    clock.set(at(23, 11, 0))
    assert scan(app, clock).alerts == 1
    clock.set(at(23, 14, 30))
    stats = scan(app, clock)  # at the step deadline, not yet past it; the apology checkpoint: work fits
    assert (stats.alerts, stats.drafts) == (0, 0)
    clock.set(at(23, 14, 31))
    stats = scan(app, clock)
    assert (stats.alerts, stats.drafts) == (2, 1)  # the step overran: 4 h of work left, 4 h - 1 min of time
    clock.set(at(23, 16, 30))
    assert scan(app, clock).alerts == 3
    clock.set(at(25, 9, 1))
    assert scan(app, clock).alerts == 4  # overdue ×3 + today's missing-apology reminder
    clock.set(at(25, 16, 0))
    assert scan(app, clock).alerts == 0  # one reminder per working day
    clock.set(at(26, 7, 30))
    assert scan(app, clock).alerts == 1

    assert alerts(app) == (
        expected(code, "due_soon", "25/11 09:00", "chuyenvien", "truongphong", "giamdoc")
        | expected(code, "step_due_soon", "23/11 14:30", "chuyenvien")
        | expected(code, "step_overdue", "23/11 14:30", "chuyenvien", "truongphong")
        | expected(code, "overdue", "25/11 09:00", "chuyenvien", "truongphong", "giamdoc")
        | expected(code, "apology_missing", "25/11 07:30", "giamdoc")
        | expected(code, "apology_missing", "26/11 07:30", "giamdoc"))
    assert local(dossier_row(app, code).next_alert_at) == "27/11 07:30"
    assert len(apologies_of(app, code)) == 1  # drafted once


def test_catch_up_after_downtime_raises_the_state_reached(client, login, app, clock):
    code = forwarded(client, login)["code"]
    long_code = receive(client, login, LONG)["code"]
    clock.set(at(26, 10, 0))  # the scheduler was down from Monday morning to Thursday 10:00
    stats = scan(app, clock)
    assert stats.dossiers == 1 and stats.drafts == 1  # the 5-day dossier is not looked at
    assert alerts(app) == (
        expected(code, "step_overdue", "23/11 14:30", "chuyenvien", "truongphong")
        | expected(code, "overdue", "25/11 09:00", "chuyenvien", "truongphong", "giamdoc")
        | expected(code, "apology_missing", "26/11 07:30", "giamdoc"))
    draft = apologies_of(app, code)[0]
    assert draft.status == "draft" and draft.original_due_at == dossier_row(app, code).due_at
    # The proposal: now + the work left (the overdue step: nothing; step 1: 2 h → Thursday 13:30), at
    # least one working day after the original appointment (Thursday 09:00), at the end of that day.
    assert local(draft.proposed_due_at) == "26/11 17:00"
    assert scan(app, clock).alerts == 0
    assert local(dossier_row(app, code).next_alert_at) == "27/11 07:30"
    assert dossier_row(app, long_code).next_alert_at is not None and not apologies_of(app, long_code)


def test_alerts_reach_the_desk_holding_a_received_dossier(client, login, app, clock):
    plain_limit(client, login)
    code = receive(client, login, SHORT)["code"]  # received, not yet forwarded: the desk holds it
    assert scan(app, clock).alerts == 0
    clock.set(at(23, 16, 30))
    assert scan(app, clock).alerts == 3
    assert alerts(app) == expected(code, "due_soon", "25/11 09:00", "motcua", "truongphong", "giamdoc")


def test_alerts_of_an_unassigned_step_reach_whoever_may_take_it(client, login, app, clock):
    """Nobody assigned at the division's step: its specialists hold it; at the desk's step (the result
    at the desk): the desk officers. Both with the division's and the Department's leaders."""
    plain_limit(client, login)
    desk, specialist, director = login("motcua"), login("chuyenvien"), login("giamdoc")
    unassigned = act(client, desk, receive(client, login, SHORT), "forward")
    at_desk = act(client, specialist, forwarded(client, login), "forward", assignee="giamdoc")
    at_desk = act(client, director, at_desk, "forward", result_reference="7/QĐ-SGDĐT")
    assert at_desk["current_step"]["role"] == "desk" and at_desk["assignee"] is None
    clock.set(at(23, 16, 30))
    scan(app, clock)
    got = alerts(app)
    assert {u for (c, k, _, u) in got if c == unassigned["code"] and k == "due_soon"} == \
        {"chuyenvien", "truongphong", "giamdoc"}
    assert {u for (c, k, _, u) in got if c == at_desk["code"] and k == "due_soon"} == \
        {"motcua", "truongphong", "giamdoc"}


def test_paused_and_resolved_dossiers_raise_nothing(client, login, app, clock):
    desk, specialist, director = login("motcua"), login("chuyenvien"), login("giamdoc")
    paused = forwarded(client, login)
    act(client, specialist, paused, "request_supplement", items=["Bản sao văn bằng"])
    done = forwarded(client, login)
    done = act(client, specialist, done, "forward", assignee="giamdoc")
    ready(client, director, login("motcua"), done, result_reference="1/QĐ")
    assert dossier_row(app, paused["code"]).next_alert_at is None
    assert dossier_row(app, done["code"]).next_alert_at is None
    clock.set(at(30, 9, 0))
    assert scan(app, clock).dossiers == 0 and alert_count(app) == 0
    assert desk  # the desk forwarded both


def test_a_new_step_is_planned_on_the_calendar(client, login, app, clock):
    dossier = forwarded(client, login)
    scan(app, clock)
    clock.set(at(23, 10, 0))
    dossier = act(client, login("chuyenvien"), dossier, "forward", assignee="giamdoc")
    # Without the calendar the workflow asks the scan to look again (a moment already past); the
    # scan places the step's due-soon moment: step 1 (2 h) from 10:00 is due 13:30, due soon from
    # its start.
    assert dossier_row(app, dossier["code"]).next_alert_at <= clock.now()
    assert scan(app, clock).alerts == 1
    assert ("step_due_soon", "23/11 13:30", "giamdoc") in {(k, d, u) for _, k, d, u in alerts(app)}
    assert local(dossier_row(app, dossier["code"]).next_alert_at) == "23/11 13:30"


def test_scan_reads_the_partial_index(engine, settings):
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SET enable_seqscan = off"))
            plan = conn.execute(text("EXPLAIN SELECT id FROM dossiers WHERE next_alert_at <= now() "
                                     "ORDER BY next_alert_at LIMIT 500 FOR UPDATE SKIP LOCKED")).scalars().all()
        else:
            plan = [row[-1] for row in conn.execute(text(
                "EXPLAIN QUERY PLAN SELECT id FROM dossiers WHERE next_alert_at <= '2026-11-23' "
                "ORDER BY next_alert_at LIMIT 500"))]
    assert any("ix_dossiers_next_alert_at" in line for line in plan), plan


# --- exactly once across replicas --------------------------------------------------------------

def _seed_for_day(client, login, app) -> dict[str, str]:  # noqa: ANN001
    """Four dossiers at Monday 09:00: A and D forwarded to the specialist, B a 5-day dossier, C
    resolved at once. Two leaders get an e-mail address, for the digest."""
    specialist, director = login("chuyenvien"), login("giamdoc")
    a = forwarded(client, login)["code"]
    b = receive(client, login, LONG)["code"]
    c = forwarded(client, login)
    c = act(client, specialist, c, "forward", assignee="giamdoc")
    ready(client, director, login("motcua"), c, result_reference="2/QĐ")
    d = forwarded(client, login)["code"]
    with transaction(app.state.sessionmaker) as s:
        for username in ("giamdoc", "truongphong"):
            s.execute(update(User).where(User.username == username).values(email=f"{username}@sogd.example.vn"))
    return {"A": a, "B": b, "C": c["code"], "D": d}


def _issue_d(client, login, app, code: str) -> None:  # noqa: ANN001
    draft = client.get(f"/api/v1/dossiers/{code}/apologies", headers=login("chuyenvien")).json()[0]
    r = client.patch(f"/api/v1/apologies/{draft['id']}", json={"reason": "Cần xác minh văn bằng với trường cấp"},
                     headers=login("chuyenvien"))
    assert r.status_code == 200, r.text
    r = client.post(f"/api/v1/apologies/{draft['id']}/issue", headers=login("giamdoc"))
    assert r.status_code == 200, r.text
    assert local(datetime.fromisoformat(r.json()["new_due_at"])) == "26/11 17:00"


def test_exactly_once_across_replicas_over_a_simulated_day(client, login, app, clock, engine):
    """Three scheduler replicas (threads calling the job bodies, like BlockingScheduler would)
    against one PostgreSQL from Monday 09:00 to Thursday 08:00, every 30 minutes of office hours. On SQLite (one
    writer: a single replica by design) the same run with one replica gives the same result."""
    codes = _seed_for_day(client, login, app)
    replicas = 3 if engine.dialect.name == "postgresql" else 1
    sender = RecordingSender()
    senders = Senders(email=sender, sms=sender)
    factory, settings = app.state.sessionmaker, app.state.settings
    errors: list[BaseException] = []
    barrier = threading.Barrier(replicas)

    def replica() -> None:
        try:
            barrier.wait()
            run_deadline_scan(factory, settings, clock)
            run_notify_dispatch(factory, settings, clock, senders)
            run_daily_digest(factory, settings, clock)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    end = at(26, 8, 0)
    with ThreadPoolExecutor(max_workers=replicas) as pool:
        while clock.now() <= end:
            for future in [pool.submit(replica) for _ in range(replicas)]:
                future.result()
            if clock.now() == at(23, 15, 0):  # drafted at 15:00 (the first step overran at 14:31)
                _issue_d(client, login, app, codes["D"])
            # Every 30 minutes in office hours; at night the scheduler runs too, but nothing is
            # due between 18:00 and 07:00 (one midnight tick stands for those runs).
            hour = clock.advance(minutes=30).astimezone(VN).hour
            if hour == 18:
                clock.advance(hours=6)
            elif hour == 0:
                clock.advance(hours=7)
    assert not errors, errors

    a, d = codes["A"], codes["D"]
    every = ("chuyenvien", "truongphong", "giamdoc")
    assert alerts(app) == (
        expected(a, "due_soon", "25/11 09:00", *every) | expected(d, "due_soon", "25/11 09:00", *every)
        | expected(a, "step_due_soon", "23/11 14:30", "chuyenvien")
        | expected(d, "step_due_soon", "23/11 14:30", "chuyenvien")
        | expected(a, "step_overdue", "23/11 14:30", "chuyenvien", "truongphong")
        | expected(d, "step_overdue", "23/11 14:30", "chuyenvien", "truongphong")
        | expected(a, "overdue", "25/11 09:00", *every) | expected(d, "overdue", "25/11 09:00", *every)
        | expected(a, "apology_missing", "25/11 07:30", "giamdoc")
        | expected(a, "apology_missing", "26/11 07:30", "giamdoc")
        | expected(d, "due_soon", "26/11 17:00", *every))
    assert alert_count(app) == 23
    assert [x.status for x in apologies_of(app, a)] == ["draft"]
    assert [x.status for x in apologies_of(app, d)] == ["issued"]
    assert not apologies_of(app, codes["B"]) and not apologies_of(app, codes["C"])

    with factory() as s:
        rows = s.exec(select(OutboxMessage).where(OutboxMessage.topic == "notify")).all()
    kinds = sorted(r.kind for r in rows)
    # Receipts ×4, result ready ×1, apology ×1; digests: 2 leaders × 3 working days (Tuesday is a holiday).
    assert kinds == ["apology_issued"] + ["digest"] * 6 + ["received"] * 4 + ["result_ready"]
    assert {r.status for r in rows} == {"sent"}
    sent = [(x.message_id, x.channel) for x in sender.deliveries]
    assert len(sent) == len(set(sent)) == 6 * 2 + 6  # applicants by e-mail and SMS, leaders by e-mail
    digest_days = sorted(r.created_at.astimezone(VN).strftime("%d/%m") for r in rows if r.kind == "digest")
    assert digest_days == ["23/11"] * 2 + ["25/11"] * 2 + ["26/11"] * 2


# --- the daily digest --------------------------------------------------------------------------

def test_daily_digest_once_per_working_day(client, login, app, clock):
    forwarded(client, login)
    with transaction(app.state.sessionmaker) as s:
        s.execute(update(User).where(User.username == "giamdoc").values(email="gd@sogd.example.vn",
                                                                        phone="0912000111"))
    factory, settings = app.state.sessionmaker, app.state.settings
    clock.set(at(23, 14, 31))  # the first step overran: the apology is drafted
    scan(app, clock)
    clock.set(at(24, 7, 30))  # Vietnam Culture Day: no digest
    assert send_daily_digest(factory, now=clock.now(), settings=settings).agencies == 0
    clock.set(at(25, 7, 0))
    assert send_daily_digest(factory, now=clock.now(), settings=settings).too_early
    clock.set(at(25, 7, 30))
    first = send_daily_digest(factory, now=clock.now(), settings=settings)
    again = send_daily_digest(factory, now=clock.now() + timedelta(hours=3), settings=settings)
    assert first.messages == 1 and again.messages == 0
    with factory() as s:
        row = s.exec(select(OutboxMessage).where(OutboxMessage.kind == "digest")).one()
    assert row.payload["to_email"] == "gd@sogd.example.vn" and row.dossier_id is None
    assert "1 hồ sơ sắp đến hạn" in row.payload["text"] and "1 văn bản xin lỗi" in row.payload["text"]


# --- the scheduler process ---------------------------------------------------------------------

def test_build_scheduler_has_fixed_jobs(tmp_path):
    settings = make_settings(f"sqlite:///{tmp_path}/x.db", scan_interval_seconds=30, outbox_interval_seconds=5)
    scheduler = build_scheduler(settings, None, FrozenClock(at(23, 9)))  # type: ignore[arg-type]
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert set(jobs) == set(JOB_IDS)
    for job in jobs.values():
        assert job.coalesce is True and job.max_instances == 1 and job.misfire_grace_time >= 300
    assert jobs["deadline_scan"].trigger.interval == timedelta(seconds=30)
    assert jobs["notify_dispatch"].trigger.interval == timedelta(seconds=5)
    digest = jobs["daily_digest"].trigger
    fields = {f.name: str(f) for f in digest.fields}
    assert (fields["day_of_week"], fields["hour"], fields["minute"]) == ("mon-fri", "7", "30")
    assert str(digest.timezone) == "Asia/Ho_Chi_Minh"


def test_api_process_starts_no_scheduler():
    import app.main

    assert "apscheduler" not in Path(app.main.__file__).read_text()


def test_scheduler_process_runs_and_stops_on_sigterm(tmp_path):
    from app.db import make_engine
    from app.migrations import upgrade

    url = f"sqlite:///{tmp_path}/motcua.db"
    engine = make_engine(make_settings(url))
    upgrade(engine)
    engine.dispose()
    env = {**os.environ, "MOTCUA_DATABASE_URL": url, "MOTCUA_SMS_OUTBOX_DIR": str(tmp_path / "sms"),
           "MOTCUA_PORTAL_URL": "http://127.0.0.1:9", "MOTCUA_LOG_LEVEL": "INFO"}
    proc = subprocess.Popen([sys.executable, "-c", "from app.cli import app; app()", "scheduler"], env=env,
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    try:
        lines = []
        for line in proc.stderr:  # type: ignore[union-attr]
            lines.append(line)
            if "scheduler started" in line:
                break
        assert any("scheduler started" in line for line in lines), lines
        proc.send_signal(signal.SIGTERM)
        rest = proc.communicate(timeout=60)[1]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, rest
    assert "scheduler stopped" in rest


def test_cli_scheduler_once_runs_each_job_body(client, login, app, clock, settings, monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from app.cli import app as cli
    from app.settings import get_settings

    from datetime import UTC

    clock.set(datetime.now(UTC) - timedelta(days=30))  # the CLI runs on the real clock: overdue by then
    forwarded(client, login)
    monkeypatch.setenv("MOTCUA_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("MOTCUA_SMS_OUTBOX_DIR", str(tmp_path))
    # The key the API sealed the outbox payloads with (app/sealing.py): every process shares it.
    monkeypatch.setenv("MOTCUA_JWT_SECRET", settings.jwt_secret.get_secret_value())
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["scheduler", "--once"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "deadline_scan: batches=1, dossiers=1" in result.output
    assert "notify_dispatch: sent=1" in result.output  # the receipt, by SMS to the file
    assert (tmp_path / "sms.jsonl").read_text(encoding="utf-8").count("\n") == 1
    assert alert_count(app) > 0
