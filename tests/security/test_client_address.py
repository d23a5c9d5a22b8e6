"""Issue 12 item 6: the address every limit counts against comes from MOTCUA_TRUSTED_PROXIES alone.

`motcua serve` configures uvicorn's proxy headers from that setting, so an `X-Forwarded-For` sent
by an untrusted peer, loopback included, is ignored by uvicorn and by the app. Proved against a
real `motcua serve` process: the rate-limit counters are keyed by the address the app used.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import select

from app.db import make_engine
from app.migrations import upgrade
from app.models import RateCounter
from app.settings import Settings
from app.web import ratelimit
from tests.conftest import TEST_SECRET, make_settings
from tests.faults.server import ROOT, Server, free_port

SPOOFED = "198.51.100.77"


class Serve(Server):
    """`python -m app.cli serve` (the operators' command), not uvicorn directly."""

    def __init__(self, database_url: str, env: dict[str, str]) -> None:  # noqa: D107
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        environment = {k: v for k, v in os.environ.items() if k != "FORWARDED_ALLOW_IPS"}
        environment |= {"MOTCUA_DATABASE_URL": database_url, "MOTCUA_JWT_SECRET": TEST_SECRET, "MOTCUA_ENV": "test",
                        "MOTCUA_LOG_LEVEL": "CRITICAL", "MOTCUA_PASSWORD_TIME_COST": "1",
                        "MOTCUA_PASSWORD_MEMORY_COST": "1024", **env}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=ROOT, env=environment, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.fixture
def database(tmp_path) -> Iterator[str]:  # noqa: ANN001
    url = f"sqlite:///{tmp_path}/motcua.db"
    engine = make_engine(make_settings(url))
    upgrade(engine)
    engine.dispose()
    yield url


def _counted_addresses(url: str) -> set[str]:
    settings = make_settings(url)
    engine = make_engine(settings)
    with engine.connect() as conn:
        keys = {row[0] for row in conn.execute(select(RateCounter.key))}
    engine.dispose()
    names = {"127.0.0.1": ratelimit.fingerprint("addr", "127.0.0.1", settings),
             SPOOFED: ratelimit.fingerprint("addr", SPOOFED, settings)}
    return {name for name, digest in names.items() if f"lookup:addr:{digest}" in keys}


def _look_up_with_forged_header(server: Serve) -> None:
    server.wait_ready()
    response = httpx.post(server.base + "/api/v1/public/lookup", timeout=10,
                          json={"code": "000.00.17.H26-261123-0001", "secret": "ABCDE-FGHJK"},
                          headers={"X-Forwarded-For": SPOOFED})
    assert response.status_code == 404, response.text


@pytest.mark.parametrize(("trusted", "counted"), [
    (None, {"127.0.0.1"}),  # default: nobody trusted, the loopback peer's header is ignored
    ("127.0.0.1", {SPOOFED}),  # a proxy on the same host, declared: its header is believed
])
def test_serve_believes_forwarded_for_only_from_trusted_proxies(database, trusted, counted) -> None:  # noqa: ANN001
    env = {"MOTCUA_TRUSTED_PROXIES": trusted} if trusted else {}
    server = Serve(database, env)
    try:
        _look_up_with_forged_header(server)
    finally:
        server.stop()
    assert _counted_addresses(database) == counted


def test_serve_passes_the_setting_to_uvicorn(monkeypatch) -> None:  # noqa: ANN001
    import uvicorn
    from typer.testing import CliRunner

    from app.cli import app
    from app.settings import get_settings

    calls: list[dict] = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: calls.append(kwargs))
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "*")  # uvicorn's own variable: must not matter
    for value, expected in ((None, {"proxy_headers": False, "forwarded_allow_ips": ""}),
                            ("10.0.0.1/8, 192.0.2.10", {"proxy_headers": True,
                                                         "forwarded_allow_ips": "10.0.0.0/8,192.0.2.10/32"})):
        if value is None:
            monkeypatch.delenv("MOTCUA_TRUSTED_PROXIES", raising=False)
        else:
            monkeypatch.setenv("MOTCUA_TRUSTED_PROXIES", value)
        get_settings.cache_clear()
        result = CliRunner().invoke(app, ["serve"])
        assert result.exit_code == 0, result.output
        assert {k: calls[-1][k] for k in expected} == expected
    get_settings.cache_clear()


def test_one_helper_computes_the_address_for_every_limit() -> None:
    class Peer:
        host = "10.0.0.2"

    class Request:
        client = Peer()
        headers = {"x-forwarded-for": "6.6.6.6, 203.0.113.5"}

    base = {"env": "test", "jwt_secret": TEST_SECRET}
    assert ratelimit.client_of(Request(), Settings(**base)) == "10.0.0.2"
    assert ratelimit.client_of(Request(), Settings(**base, trusted_proxies=["10.0.0.0/8"])) == "203.0.113.5"
