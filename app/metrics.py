"""Prometheus metrics of the running service (`GET /metrics`, docs/OPERATIONS.md).

Three sources, one text answer:

* **in the API process** (prometheus_client counters and histograms): requests per route
  *template* (`/api/v1/dossiers/{code}`, never the raw path, so the series stay few), their
  latency and status; database connections checked out of the pool; lookups refused by the rate
  limit. With several uvicorn workers, `motcua serve --workers N` points every worker at one
  directory (`PROMETHEUS_MULTIPROC_DIR`, prometheus_client's multiprocess mode) and a scrape,
  answered by any worker, sums them all;
* **in the database, read at scrape**: the outbox backlog and its oldest pending message per topic
  (one query on the partial index `ix_outbox_unsent`);
* **the scheduler's jobs** (another process, maybe another host): each run adds to its row of
  `scheduler_job_stats` (runs, failures, seconds, alerts raised, last start and success), read at
  scrape; so the API's /metrics is the one target to scrape, and a silent scheduler shows as a
  `last_success` that stops moving.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client import generate_latest, multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric, SummaryMetricFamily
from sqlalchemy import Engine, event, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from app.models import OutboxMessage, SchedulerJobStats

UNMATCHED = "<unmatched>"  # a path no route answers: one series, whatever was asked

HTTP_REQUESTS = Counter("motcua_http_requests_total", "HTTP requests answered, by route template and status",
                        ["method", "route", "status"])
HTTP_LATENCY = Histogram("motcua_http_request_duration_seconds", "Time to answer an HTTP request, by route template",
                         ["method", "route"],
                         buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))
DB_POOL_IN_USE = Gauge("motcua_db_pool_connections_in_use", "Database connections checked out of the pool",
                       multiprocess_mode="livesum")
DB_POOL_CAPACITY = Gauge("motcua_db_pool_capacity", "Connections the pool may open (size + overflow), all workers",
                         multiprocess_mode="livesum")
LOOKUPS_REFUSED = Counter("motcua_lookup_rate_limited_total", "Citizen lookups refused by the rate limit (429)",
                          ["scope"])


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def prepare_multiprocess_dir(path: str) -> None:
    """Before the workers start: an empty directory (files of an earlier run would be summed in)."""
    os.makedirs(path, exist_ok=True)
    for name in os.listdir(path):
        if name.endswith(".db"):
            os.remove(os.path.join(path, name))


def worker_exited() -> None:
    """A worker's live gauges (its pool) leave the sums when it stops."""
    if multiprocess_dir():
        multiprocess.mark_process_dead(os.getpid())


# --- HTTP ------------------------------------------------------------------------------------------

class MetricsMiddleware:
    """Pure ASGI (no BaseHTTPMiddleware task per request): counts and times every HTTP request
    under the template of the route that answered it, read from `scope["route"]` once routed."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def send_status(message: dict) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or UNMATCHED
            method = scope.get("method", "GET")
            HTTP_REQUESTS.labels(method, template, str(status[0])).inc()
            HTTP_LATENCY.labels(method, template).observe(time.perf_counter() - started)


# --- database pool -----------------------------------------------------------------------------------

def watch_pool(engine: Engine) -> None:
    """Count checked-out connections from the pool's own events (no polling, no private state)."""
    pool = engine.pool
    size = getattr(pool, "size", None)
    overflow = getattr(pool, "_max_overflow", 0) if callable(size) else 0
    if callable(size):
        DB_POOL_CAPACITY.inc(size() + max(overflow, 0))

    @event.listens_for(pool, "checkout")
    def _out(*_: Any) -> None:
        DB_POOL_IN_USE.inc()

    @event.listens_for(pool, "checkin")
    def _in(*_: Any) -> None:
        DB_POOL_IN_USE.dec()


# --- scheduler jobs (written by the scheduler process) ------------------------------------------------

def record_job_run(session: Session, job_id: str, *, started: datetime, seconds: float, ok: bool,
                   alerts: int = 0) -> None:
    """Add one run of `job_id` to its row (created on its first run), in one statement."""
    table = SchedulerJobStats.__table__  # type: ignore[attr-defined]
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    values = {"job_id": job_id, "runs": 1, "failures": 0 if ok else 1, "seconds": seconds, "alerts": alerts,
              "last_started_at": started, "last_success_at": started if ok else None}
    statement = insert(table).values(values)
    excluded = statement.excluded
    statement = statement.on_conflict_do_update(index_elements=["job_id"], set_={
        "runs": table.c.runs + 1, "failures": table.c.failures + excluded.failures,
        "seconds": table.c.seconds + excluded.seconds, "alerts": table.c.alerts + excluded.alerts,
        "last_started_at": excluded.last_started_at,
        "last_success_at": func.coalesce(excluded.last_success_at, table.c.last_success_at)})
    session.execute(statement)


# --- the scrape ----------------------------------------------------------------------------------------

def _outbox_families(session: Session, now: datetime) -> list[Metric]:
    backlog = GaugeMetricFamily("motcua_outbox_backlog", "Outbox messages not delivered, by topic and status "
                                "(pending: still tried; dead: given up)", labels=["topic", "status"])
    oldest = GaugeMetricFamily("motcua_outbox_oldest_pending_age_seconds",
                               "Age of the oldest pending outbox message, by topic (0: none pending)",
                               labels=["topic"])
    table = OutboxMessage.__table__  # type: ignore[attr-defined]
    rows = session.execute(
        select(table.c.topic, table.c.status, func.count(), func.min(table.c.created_at))
        .where(table.c.status.in_(("pending", "dead"))).group_by(table.c.topic, table.c.status)).all()
    seen: dict[str, float] = {"portal": 0.0, "notify": 0.0}
    for topic, status, count, first in rows:
        backlog.add_metric([topic, status], count)
        if status == "pending" and first is not None:
            seen[topic] = max(0.0, (now - first).total_seconds())
    for topic, age in sorted(seen.items()):
        oldest.add_metric([topic], age)
    return [backlog, oldest]


def _job_families(session: Session) -> list[Metric]:
    runs = SummaryMetricFamily("motcua_scheduler_job_duration_seconds", "Scheduler job runs and their total time",
                               labels=["job"])
    failures = CounterMetricFamily("motcua_scheduler_job_failures", "Scheduler job runs that failed", labels=["job"])
    alerts = CounterMetricFamily("motcua_alerts_raised", "Alerts written by scheduler jobs (deadline scan, portal "
                                 "backlog)", labels=["job"])
    started = GaugeMetricFamily("motcua_scheduler_job_last_start_timestamp_seconds",
                                "Unix time of the job's last start", labels=["job"])
    success = GaugeMetricFamily("motcua_scheduler_job_last_success_timestamp_seconds",
                                "Unix time of the start of the job's last successful run", labels=["job"])
    for row in session.execute(select(SchedulerJobStats).order_by(SchedulerJobStats.job_id)).scalars():
        runs.add_metric([row.job_id], count_value=row.runs, sum_value=row.seconds)
        failures.add_metric([row.job_id], row.failures)
        alerts.add_metric([row.job_id], row.alerts)
        started.add_metric([row.job_id], row.last_started_at.timestamp())
        if row.last_success_at is not None:
            success.add_metric([row.job_id], row.last_success_at.timestamp())
    return [runs, failures, alerts, started, success]


class _Scrape:
    """What one scrape answers: the process (or all workers') metrics, then the database's."""

    def __init__(self, session: Session, now: datetime) -> None:
        self.session, self.now = session, now

    def collect(self) -> Iterator[Metric]:
        if multiprocess_dir():
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            yield from registry.collect()
        else:
            yield from REGISTRY.collect()
        yield from _outbox_families(self.session, self.now)
        yield from _job_families(self.session)


def exposition(session: Session, now: datetime) -> tuple[bytes, str]:
    return generate_latest(_Scrape(session, now)), CONTENT_TYPE_LATEST  # type: ignore[arg-type]


# --- who may scrape ------------------------------------------------------------------------------------

def scrape_allowed(authorization: str | None, client: str, token: str | None, networks: list[str]) -> bool:
    """The scraper's bearer token (`metrics_token`), or no credentials from an address of `metrics_networks`."""
    if authorization:
        scheme, _, value = authorization.partition(" ")
        return bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(value.encode(), token.encode())
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(n, strict=False) for n in networks)


__all__ = ["LOOKUPS_REFUSED", "MetricsMiddleware", "exposition", "record_job_run", "scrape_allowed",
           "watch_pool", "worker_exited"]
