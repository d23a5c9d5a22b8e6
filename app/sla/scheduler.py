"""The scheduler process (`motcua scheduler`): APScheduler 3 in its own process, never in the API.

Jobs (fixed ids, `coalesce=True`, `max_instances=1`, a misfire grace time):

* `deadline_scan`   every `scan_interval_seconds`: alerts, apology drafts (`app.sla.scan`);
* `feedback_scan`   every `scan_interval_seconds`: due-soon / overdue alerts on citizens' feedback
  (`app.feedback.scan`, the same guarantees as the deadline scan);
* `notify_dispatch` every `outbox_interval_seconds`: applicant and leader notifications;
* `portal_dispatch` every `outbox_interval_seconds`: national-portal sync (`app.portal.sync`);
* `portal_pull`     every minute: online submissions (`app.portal.inbound`);
* `daily_digest`    07:30 (`digest_time`) Monday–Friday, Asia/Ho_Chi_Minh: leaders' summary;
* `portal_reconcile` every `portal_reconcile_interval_seconds`: read recently changed dossiers back
  from the portal, re-sync the ones that differ (`app.portal.reconcile`);
* `portal_backlog`  every minute: alert the admins once when portal messages wait too long;
* `report_aggregates` every `report_aggregates_interval_seconds`: rebuild the monthly report
  aggregates of the months closed or touched since its last run (`app.reports.aggregates`).

Several replicas may run: every job body takes its own PostgreSQL advisory lock (a replica that
does not get it skips that run) and is idempotent on its own, so each alert, notice and message
happens once. The scan and the dispatchers also run once at start-up: a scheduler that was down
catches up at once. Business time comes from the injected clock; APScheduler only decides when.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.events import EVENT_SCHEDULER_STARTED
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from app.clock import Clock
from app.db import try_advisory_xact_lock
from app.settings import Settings

log = logging.getLogger("motcua.scheduler")

JOB_IDS = ("deadline_scan", "feedback_scan", "notify_dispatch", "portal_dispatch", "portal_pull", "daily_digest",
           "rate_counter_purge", "portal_reconcile", "portal_backlog", "payment_reconcile", "report_aggregates",
           "late_risk")
NOTIFY_LOCK = "motcua.notify_dispatch"
PORTAL_DISPATCH_LOCK = "motcua.portal_dispatch"
PORTAL_PULL_LOCK = "motcua.portal_pull"
PORTAL_RECONCILE_LOCK = "motcua.portal_reconcile"
PORTAL_BACKLOG_LOCK = "motcua.portal_backlog"
PAYMENT_RECONCILE_LOCK = "motcua.payment_reconcile"
REPORT_AGGREGATES_LOCK = "motcua.report_aggregates"
DIGEST_GRACE_SECONDS = 4 * 3600  # a scheduler back at 09:00 still sends the 07:30 digest (once)


@contextmanager
def job_lock(factory: sessionmaker[Session], name: str) -> Iterator[bool]:
    """Hold the advisory lock `name` for the duration of a job whose body opens its own sessions
    (the outbox dispatchers). True on SQLite, where nothing is held (the database serializes)."""
    session = factory()
    try:
        yield try_advisory_xact_lock(session, name)
    finally:
        session.rollback()  # ends the transaction, which releases the lock
        session.close()


def _stats(value: Any) -> dict[str, Any]:
    fields = getattr(value, "__dataclass_fields__", None)
    return {k: getattr(value, k) for k in fields} if fields else {}


class _Failed:
    """A job body raised (logged by `_guarded`)."""


FAILED = _Failed()


def _guarded(job_id: str, body: Callable[[], Any]) -> Any:
    """Run a job body; log failures by type only (exception texts may quote personal data)."""
    try:
        return body()
    except Exception as exc:  # noqa: BLE001  the next run tries again
        log.error("job failed", extra={"fields": {"job": job_id, "error": type(exc).__name__}})
        log.debug("job failure detail", exc_info=True)
        return FAILED


def _alerts_of(result: Any) -> int:
    """Alerts a run wrote: the deadline scan's stats, the portal backlog check's count."""
    if isinstance(result, bool):
        return 0
    if isinstance(result, int):
        return result
    return int(getattr(result, "alerts", 0) or 0)


def _record_run(factory: sessionmaker[Session], job_id: str, started: datetime, seconds: float, result: Any) -> None:
    """Add the run to the job's totals (GET /metrics); a failure to record never fails the job."""
    from app.db import transaction
    from app.metrics import record_job_run

    ok = result is not FAILED
    try:
        with transaction(factory) as session:
            record_job_run(session, job_id, started=started, seconds=seconds, ok=ok,
                           alerts=_alerts_of(result) if ok else 0)
    except Exception as exc:  # noqa: BLE001  the database may be away: the job's own error said so
        log.warning("job run not recorded", extra={"fields": {"job": job_id, "error": type(exc).__name__}})


# --- job bodies (each usable on its own: tests and replicas call them directly) ----------------

def run_deadline_scan(factory: sessionmaker[Session], settings: Settings, clock: Clock) -> Any:
    from app.sla.scan import scan_deadlines

    return scan_deadlines(factory, now=clock.now(), settings=settings)


def run_late_risk(factory: sessionmaker[Session], settings: Settings, clock: Clock) -> Any:
    """The late-risk forecast of every running dossier and its alerts (app/foresight/risk_scan.py:
    its own lock and interval mark). A job of its own: its pass (18 s an hour at 2 M dossiers, about
    a minute when the day's models are learnt) must not hold up the deadline scan's ticks."""
    from app.foresight.risk_scan import scan_late_risk

    return scan_late_risk(factory, now=clock.now(), settings=settings)


def run_feedback_scan(factory: sessionmaker[Session], settings: Settings, clock: Clock) -> Any:
    from app.feedback.scan import scan_feedback

    return scan_feedback(factory, now=clock.now(), settings=settings)


def run_notify_dispatch(factory: sessionmaker[Session], settings: Settings, clock: Clock, senders: Any = None) -> Any:
    from app.channels.senders import notify_handler, senders_from_settings
    from app.outbox import DispatchStats, dispatch_pending

    now = clock.now()
    senders = senders or senders_from_settings(settings)
    with job_lock(factory, NOTIFY_LOCK) as held:
        if not held:
            return DispatchStats()
        handler = notify_handler(senders, now=now, base_delay_seconds=settings.outbox_base_delay_seconds,
                                 max_delay_seconds=settings.outbox_max_delay_seconds)
        return dispatch_pending(factory, topic="notify", handler=handler, now=now,
                                max_attempts=settings.outbox_max_attempts,
                                base_delay_seconds=settings.outbox_base_delay_seconds,
                                max_delay_seconds=settings.outbox_max_delay_seconds)


def run_portal_dispatch(factory: sessionmaker[Session], settings: Settings, clock: Clock) -> Any:
    from app.portal.sync import dispatch_portal  # lazy: the portal adapter is optional here

    with job_lock(factory, PORTAL_DISPATCH_LOCK) as held:
        return dispatch_portal(factory, settings, clock.now()) if held else None


def run_portal_pull(factory: sessionmaker[Session], settings: Settings, clock: Clock) -> Any:
    from app.portal.inbound import pull_submissions

    with job_lock(factory, PORTAL_PULL_LOCK) as held:
        return pull_submissions(factory, settings, clock.now()) if held else None


def run_daily_digest(factory: sessionmaker[Session], settings: Settings, clock: Clock) -> Any:
    from app.sla.scan import send_daily_digest

    return send_daily_digest(factory, now=clock.now(), settings=settings)


def run_rate_counter_purge(factory: sessionmaker[Session], settings: Settings, clock: Clock) -> int:
    """Delete the lookup rate-limit windows that have ended (the lookup itself never purges)."""
    from app.db import transaction
    from app.web.ratelimit import purge_rate_counters

    with transaction(factory) as session:
        return purge_rate_counters(session, clock.now())


def run_portal_reconcile(factory: sessionmaker[Session], settings: Settings, clock: Clock) -> Any:
    from app.portal.reconcile import reconcile_portal

    with job_lock(factory, PORTAL_RECONCILE_LOCK) as held:
        return reconcile_portal(factory, settings, clock.now()) if held else None


def run_portal_backlog(factory: sessionmaker[Session], settings: Settings, clock: Clock) -> Any:
    from app.portal.reconcile import check_backlog

    with job_lock(factory, PORTAL_BACKLOG_LOCK) as held:
        return check_backlog(factory, settings, clock.now()) if held else None


def run_payment_reconcile(factory: sessionmaker[Session], settings: Settings, clock: Clock) -> Any:
    """Settle online payments whose callback was lost or late, by querying the platform."""
    from app.payments.client import PaymentPlatform
    from app.payments.online import reconcile

    with job_lock(factory, PAYMENT_RECONCILE_LOCK) as held:
        if not held:
            return None
        with PaymentPlatform.from_settings(settings, now=lambda: clock.now().timestamp()) as platform:
            return reconcile(factory, settings, clock.now(), platform=platform)


def run_report_aggregates(factory: sessionmaker[Session], settings: Settings, clock: Clock) -> Any:
    """Rebuild the monthly report aggregates of the months closed or changed since the last run."""
    from app.reports.aggregates import rebuild

    with job_lock(factory, REPORT_AGGREGATES_LOCK) as held:
        return rebuild(factory, now=clock.now(), tz=settings.timezone) if held else None


def job_runner(job_id: str, body: Callable[..., Any], *args: Any) -> Callable[[], Any]:
    """`args[0]` of every job is the sessionmaker, where its run is recorded."""

    def run() -> Any:
        started, clock_start = datetime.now(UTC), time.perf_counter()
        result = _guarded(job_id, lambda: body(*args))
        _record_run(args[0], job_id, started, time.perf_counter() - clock_start, result)
        log.debug("job done", extra={"fields": {"job": job_id, **_stats(result)}})
        return None if result is FAILED else result

    run.__name__ = f"job_{job_id}"
    return run


def build_scheduler(settings: Settings, sessionmaker: sessionmaker[Session], clock: Clock, *,
                    senders: Any = None) -> BlockingScheduler:
    """A configured, not yet started, BlockingScheduler."""
    tz = ZoneInfo(settings.timezone)
    scheduler = BlockingScheduler(
        timezone=tz, executors={"default": ThreadPoolExecutor(max_workers=4)},
        job_defaults={"coalesce": True, "max_instances": 1,
                      "misfire_grace_time": settings.scheduler_misfire_grace_seconds})
    start = datetime.now(tz)  # first runs at once: catch up after downtime
    grace = settings.scheduler_misfire_grace_seconds

    def add(job_id: str, name: str, body: Callable[..., Any], trigger: Any, *args: Any, at_start: bool = True,
            misfire_grace_time: int = grace) -> None:
        extra = {"next_run_time": start} if at_start else {}
        scheduler.add_job(job_runner(job_id, body, *args), trigger, id=job_id, name=name, coalesce=True, max_instances=1,
                          misfire_grace_time=misfire_grace_time, replace_existing=True, **extra)

    def every(seconds: int) -> IntervalTrigger:
        return IntervalTrigger(seconds=seconds, timezone=tz)

    add("deadline_scan", "Quét hạn xử lý hồ sơ", run_deadline_scan, every(settings.scan_interval_seconds),
        sessionmaker, settings, clock)
    add("feedback_scan", "Quét hạn trả lời phản ánh, kiến nghị", run_feedback_scan,
        every(settings.scan_interval_seconds), sessionmaker, settings, clock)
    add("notify_dispatch", "Gửi thông báo", run_notify_dispatch, every(settings.outbox_interval_seconds),
        sessionmaker, settings, clock, senders)
    add("portal_dispatch", "Đồng bộ Cổng DVCQG", run_portal_dispatch, every(settings.outbox_interval_seconds),
        sessionmaker, settings, clock)
    add("portal_pull", "Nhận hồ sơ trực tuyến", run_portal_pull, every(60), sessionmaker, settings, clock,
        at_start=False)
    add("rate_counter_purge", "Dọn bộ đếm giới hạn tra cứu", run_rate_counter_purge, every(600), sessionmaker,
        settings, clock)
    add("portal_reconcile", "Đối soát với Cổng DVCQG", run_portal_reconcile,
        every(settings.portal_reconcile_interval_seconds), sessionmaker, settings, clock, at_start=False)
    add("portal_backlog", "Cảnh báo tồn đọng đồng bộ Cổng DVCQG", run_portal_backlog, every(60), sessionmaker,
        settings, clock)
    add("payment_reconcile", "Đối soát giao dịch thanh toán trực tuyến", run_payment_reconcile,
        every(settings.payment_reconcile_interval_seconds), sessionmaker, settings, clock, at_start=False)
    add("report_aggregates", "Tổng hợp số liệu báo cáo theo tháng", run_report_aggregates,
        every(settings.report_aggregates_interval_seconds), sessionmaker, settings, clock)
    add("late_risk", "Dự báo nguy cơ trễ hạn", run_late_risk, every(60), sessionmaker, settings, clock)
    hour, minute = (int(x) for x in settings.digest_time.split(":"))
    add("daily_digest", "Tổng hợp hằng ngày cho lãnh đạo", run_daily_digest,
        CronTrigger(day_of_week="mon-fri", hour=hour, minute=minute, timezone=tz), sessionmaker, settings, clock,
        at_start=False, misfire_grace_time=max(grace, DIGEST_GRACE_SECONDS))
    return scheduler


def run_scheduler(settings: Settings) -> None:
    """Run the scheduler until SIGTERM or SIGINT (then finish the running jobs and exit)."""
    from app.clock import SystemClock
    from app.db import make_engine, make_sessionmaker
    from app.logging import configure_logging

    configure_logging(settings.log_level)
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        logging.getLogger("apscheduler").setLevel(logging.WARNING)  # no line per run of each job
    engine = make_engine(settings)
    scheduler = build_scheduler(settings, make_sessionmaker(engine), SystemClock())

    # The BlockingScheduler loops in its own thread; signal handlers only raise a flag, and the
    # main thread shuts the scheduler down (never from inside a handler, which could interrupt
    # the loop while it holds an executor lock).
    stopping, started = threading.Event(), threading.Event()

    def stop(signum: int, _frame: Any) -> None:
        stopping.set()

    def on_start(_event: Any) -> None:
        log.info("scheduler started", extra={"fields": {
            "jobs": list(JOB_IDS), "scan_interval_seconds": settings.scan_interval_seconds,
            "outbox_interval_seconds": settings.outbox_interval_seconds, "digest_time": settings.digest_time,
            "database": "sqlite" if settings.is_sqlite else "postgresql"}})
        started.set()

    scheduler.add_listener(on_start, EVENT_SCHEDULER_STARTED)
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    runner = threading.Thread(target=scheduler.start, name="scheduler", daemon=True)
    try:
        runner.start()
        while not started.wait(0.2):
            if not runner.is_alive():
                raise RuntimeError("the scheduler did not start")
        while not stopping.wait(1.0) and runner.is_alive():
            pass
        log.info("scheduler stopping")
        try:
            scheduler.shutdown(wait=True)  # let running jobs finish
        except SchedulerNotRunningError:
            pass
        runner.join()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        engine.dispose()
        log.info("scheduler stopped")
