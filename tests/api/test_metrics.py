"""GET /metrics (issue 18 item 5): scraped and parsed with prometheus_client's own parser.

Counters of the process are global to the test run, so each check compares two scrapes (before
and after the requests it makes); what comes from the database (outbox, scheduler jobs) is exact.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from app.db import make_sessionmaker
from app.main import create_app
from app.metrics import scrape_allowed
from app.models import OutboxMessage
from app.sla.scheduler import job_runner, run_deadline_scan
from tests.conftest import make_settings
from tests.faults.server import Server
from tests.workflows.test_scenarios import receive

TOKEN = "metrics-token-0123456789"
SCRAPER = {"Authorization": f"Bearer {TOKEN}"}


def samples(client: TestClient) -> dict[tuple[str, frozenset], float]:
    response = client.get("/metrics", headers=SCRAPER)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(response.text) for s in family.samples}


def value(scrape: dict, name: str, **labels: str) -> float:
    return scrape.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
def scraped(database_url, engine, clock, demo) -> Iterator[TestClient]:  # noqa: ANN001
    settings = make_settings(database_url, metrics_token=TOKEN, lookup_rate_per_minute=1)
    with TestClient(create_app(settings, clock=clock, engine=engine)) as client:
        yield client


def test_scrape_counts_routes_outbox_jobs_and_refused_lookups(scraped, login, clock, engine) -> None:  # noqa: ANN001
    client = scraped
    before = samples(client)
    dossier = receive(client, login)
    desk = login("motcua")
    for _ in range(2):
        assert client.get(f"/api/v1/dossiers/{dossier['code']}", headers=desk).status_code == 200
    assert client.get("/no/such/page").status_code == 404
    lookups = [client.post("/api/v1/public/lookup", json={"code": dossier["code"], "secret": "AAAAA-AAAAA"})
               for _ in range(2)]
    assert [r.status_code for r in lookups] == [404, 429]
    factory = make_sessionmaker(engine)
    clock.advance(minutes=30)
    settings = client.app.state.settings
    job_runner("deadline_scan", run_deadline_scan, factory, settings, clock)()

    def broken(*_: object) -> None:
        raise RuntimeError("the job failed")

    job_runner("portal_backlog", broken, factory, settings, clock)()
    after = samples(client)

    route = "/api/v1/dossiers/{code}"  # the template, never the dossier's code
    assert value(after, "motcua_http_requests_total", method="GET", route=route, status="200") - value(
        before, "motcua_http_requests_total", method="GET", route=route, status="200") == 2
    assert value(after, "motcua_http_request_duration_seconds_count", method="GET", route=route) - value(
        before, "motcua_http_request_duration_seconds_count", method="GET", route=route) == 2
    assert value(after, "motcua_http_requests_total", method="GET", route="<unmatched>", status="404") - value(
        before, "motcua_http_requests_total", method="GET", route="<unmatched>", status="404") == 1
    assert not any(dossier["code"] in str(labels) for _, labels in after)
    assert value(after, "motcua_lookup_rate_limited_total", scope="address") - value(
        before, "motcua_lookup_rate_limited_total", scope="address") == 1
    assert value(after, "motcua_db_pool_capacity") > 0
    assert ("motcua_db_pool_connections_in_use", frozenset()) in after

    with factory() as session:
        pending = dict(session.execute(select(OutboxMessage.topic, func.count()).where(
            OutboxMessage.status == "pending").group_by(OutboxMessage.topic)).all())
    assert pending["portal"] >= 1
    for topic in ("portal", "notify"):
        assert value(after, "motcua_outbox_backlog", topic=topic, status="pending") == pending.get(topic, 0)
    assert value(after, "motcua_outbox_oldest_pending_age_seconds", topic="portal") == timedelta(minutes=30).seconds

    assert value(after, "motcua_scheduler_job_duration_seconds_count", job="deadline_scan") == 1
    assert value(after, "motcua_scheduler_job_failures_total", job="deadline_scan") == 0
    assert ("motcua_scheduler_job_last_success_timestamp_seconds", frozenset({("job", "deadline_scan")})) in after
    assert ("motcua_alerts_raised_total", frozenset({("job", "deadline_scan")})) in after
    assert value(after, "motcua_scheduler_job_failures_total", job="portal_backlog") == 1
    assert ("motcua_scheduler_job_last_success_timestamp_seconds", frozenset({("job", "portal_backlog")})) not in after


def test_only_the_scraper_reads_metrics(scraped, login) -> None:  # noqa: ANN001
    client = scraped
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong-token-0123456789"}).status_code == 401
    staff = client.get("/metrics", headers=login("admin"))
    assert staff.status_code == 403 and staff.json()["code"] == "not_permitted"
    assert client.get("/metrics", headers=SCRAPER).status_code == 200
    # Without credentials, only from the configured networks (none by default).
    assert scrape_allowed(None, "10.0.0.7", None, ["10.0.0.0/24"])
    assert not scrape_allowed(None, "10.0.1.7", None, ["10.0.0.0/24"])
    assert not scrape_allowed(None, "127.0.0.1", None, [])
    assert not scrape_allowed("Bearer x", "10.0.0.7", None, ["10.0.0.0/24"])  # a wrong token is not "none"


def test_several_workers_answer_with_the_sum(tmp_path) -> None:  # noqa: ANN001
    """`motcua serve --workers 2`: whichever worker answers the scrape counts every worker's requests."""
    from app.db import make_engine
    from app.migrations import upgrade

    url = f"sqlite:///{tmp_path}/motcua.db"
    engine = make_engine(make_settings(url))
    upgrade(engine)
    engine.dispose()
    server = Serve(url, {"MOTCUA_METRICS_TOKEN": TOKEN})
    try:
        server.wait_ready()
        for _ in range(30):
            with httpx.Client() as one_connection:  # a new connection each time: both workers answer some
                assert one_connection.get(server.base + "/health").status_code == 200
        totals = set()
        for _ in range(6):
            text = httpx.get(server.base + "/metrics", headers=SCRAPER, timeout=10).text
            totals.add(sum(s.value for f in text_string_to_metric_families(text) for s in f.samples
                           if s.name == "motcua_http_requests_total" and s.labels.get("route") == "/health"))
        assert totals == {30.0}
    finally:
        server.stop()


class Serve(Server):
    """`python -m app.cli serve --workers 2` (the operators' command: it sets up multiprocess mode)."""

    def __init__(self, database_url: str, env: dict[str, str]) -> None:  # noqa: D107
        import os
        import subprocess
        import sys

        from tests.conftest import TEST_SECRET
        from tests.faults.server import ROOT, free_port

        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        environment = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
        environment |= {"MOTCUA_DATABASE_URL": database_url, "MOTCUA_JWT_SECRET": TEST_SECRET, "MOTCUA_ENV": "test",
                        "MOTCUA_LOG_LEVEL": "CRITICAL", **env}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port),
             "--workers", "2"], cwd=ROOT, env=environment, start_new_session=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
