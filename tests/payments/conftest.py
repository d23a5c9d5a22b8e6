"""The payment platform as a real HTTP server (the mock, `motcua mock-payment`), and motcua itself
served over HTTP (the platform calls back), both on free 127.0.0.1 ports, both on the suite's
frozen clock. The two-database `engine` serves the app: every test here runs on both databases."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import uvicorn

from app.clock import FrozenClock
from app.payments.mock import CONTROL_HEADER, create_mock_platform
from app.settings import Settings
from tests.conftest import make_settings, truncate_all

CONTROL = "test-payment-control-0123456789"
MERCHANT, SECRET = "MOTCUA-TEST", "test-payment-secret-0123456789abcdef"
FULL_PROCEDURE = "1.005092"  # Cấp bản sao văn bằng, chứng chỉ từ sổ gốc: online level full (toàn trình)
FEES = {"items": [{"kind": "charge", "name": "Lệ phí cấp bản sao", "amount": 20_000, "per": "copy"},
                  {"kind": "fee", "name": "Phí tra cứu sổ gốc", "amount": 30_000, "per": "case"}],
        "exemptions": [{"code": "nguoi_co_cong", "name": "Người có công với cách mạng", "percent": 100,
                        "kinds": ["charge"]}],
        "refundable_on": ["withdrawn", "refused"]}


def bound_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextmanager
def serve(app: Any, sock: socket.socket, name: str) -> Iterator[str]:
    """Serve `app` with uvicorn in a thread on `sock`; yields its base URL."""
    config = uvicorn.Config(app, log_config=None, log_level="warning", access_log=False, lifespan="off",
                            timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=name, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"{name} did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture
def platform_socket() -> socket.socket:
    return bound_socket()


@pytest.fixture
def settings(database_url: str, engine, platform_socket: socket.socket) -> Settings:  # noqa: ANN001
    """The suite's settings, with the payment platform at the mock's address."""
    truncate_all(engine)
    return make_settings(database_url, payment_url=f"http://127.0.0.1:{platform_socket.getsockname()[1]}",
                         payment_merchant=MERCHANT, payment_secret=SECRET, payment_reconcile_after_seconds=120)


@pytest.fixture
def platform(platform_socket: socket.socket, clock: FrozenClock) -> Iterator[httpx.Client]:
    """The mock platform, live; a client of it that sends the control token."""
    mock = create_mock_platform(merchants={MERCHANT: SECRET}, control_token=CONTROL,
                                now=lambda: clock.now().timestamp())
    with serve(mock, platform_socket, "mock-payment") as url, \
            httpx.Client(base_url=url, headers={CONTROL_HEADER: CONTROL}, timeout=15) as client:
        yield client


@pytest.fixture
def live(app, platform) -> Iterator[httpx.Client]:  # noqa: ANN001
    """motcua over HTTP (the platform's callbacks and the payer's return come here)."""
    with serve(app, bound_socket(), "motcua-live") as url, httpx.Client(base_url=url, timeout=15) as client:
        yield client
