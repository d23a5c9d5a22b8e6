"""Fixtures for the web pages: a live server and a real headless Chromium (Debian's
/usr/bin/chromium driven by Playwright; `playwright install` is never run).

Browser tests run on SQLite only, and without skipping: the browser fixtures do not use the
suite's two-database `engine`; `browser_app` has its own SQLite file, migrated by Alembic and
seeded with the demo Department, served by uvicorn in a background thread (`live_server`).

    @pytest.mark.browser
    def test_something(live_server, live_api, browser_page):
        desk = live_api.login("motcua")              # Authorization headers
        live_api.post("/api/v1/dossiers", json=..., headers=desk)
        browser_page.goto(f"{live_server}/tra-cuu")

To serve a different app, override `browser_app` in a test module (it must use `browser_engine`).
Browser tests are grouped on one xdist worker; `pytest -m "not browser"` leaves them out locally.
`browser_phone_page` is a 390×844 touch viewport. Screenshots: `screenshot(page, name)` writes
to the test's tmp_path, and also to $MOTCUA_SCREENSHOT_DIR when that is set.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import make_url
from sqlalchemy.engine import Engine

from app.clock import FrozenClock
from app.db import make_engine, make_sessionmaker, transaction
from app.migrations import upgrade
from app.settings import Settings
from tests.conftest import make_settings

CHROMIUM = os.environ.get("MOTCUA_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
PHONE = {"width": 390, "height": 844}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under `pytest -n ... --dist loadgroup` all browser tests share one worker (one Chromium)."""
    for item in items:
        if item.get_closest_marker("browser") and not item.get_closest_marker("xdist_group"):
            item.add_marker(pytest.mark.xdist_group("browser"))


# --- the app under test: its own SQLite database -----------------------------------------------

@pytest.fixture
def browser_settings(tmp_path: Path) -> Settings:
    return make_settings(f"sqlite:///{tmp_path}/browser.db")


@pytest.fixture(scope="session")
def _seeded_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Callable[[datetime], Path]:
    """A migrated, demo-seeded SQLite file per seeding moment, made once per test process: each
    test copies it (a fresh database of its own) instead of running the Alembic chain again."""
    from app.catalog.demo import seed_demo

    made: dict[datetime, Path] = {}

    def _for(now: datetime) -> Path:
        if now not in made:
            path = tmp_path_factory.mktemp("browser-template") / "browser.db"
            settings = make_settings(f"sqlite:///{path}")
            engine = make_engine(settings)
            upgrade(engine)
            with transaction(make_sessionmaker(engine)) as session:
                seed_demo(session, settings=settings, now=now)
            engine.dispose()
            made[now] = path
        return made[now]

    return _for


@pytest.fixture
def browser_engine(browser_settings: Settings, clock: FrozenClock,
                   _seeded_sqlite: Callable[[datetime], Path]) -> Iterator[Engine]:
    target = make_url(browser_settings.database_url).database
    assert target, browser_settings.database_url
    shutil.copyfile(_seeded_sqlite(clock.now()), target)
    engine = make_engine(browser_settings)
    yield engine
    engine.dispose()


@pytest.fixture
def browser_app(browser_settings: Settings, browser_engine: Engine, clock: FrozenClock):  # noqa: ANN201
    from app.main import create_app

    return create_app(browser_settings, clock=clock, engine=browser_engine)


# --- the live server ---------------------------------------------------------------------------

@pytest.fixture
def live_server(browser_app) -> Iterator[str]:  # noqa: ANN001
    """Serve `browser_app` with uvicorn on a free 127.0.0.1 port; yields the base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(browser_app, log_config=None, log_level="warning", access_log=False, lifespan="off",
                            timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="live-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the live server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        assert not thread.is_alive(), "the live server did not stop"


class LiveApi(httpx.Client):
    """An HTTP client for the live server, with `login(username)` -> Authorization headers."""

    def __init__(self, base_url: str) -> None:
        super().__init__(base_url=base_url, timeout=15)
        self._tokens: dict[str, dict[str, str]] = {}

    def login(self, username: str, password: str = "demo1234") -> dict[str, str]:
        if username not in self._tokens:
            response = self.post("/api/v1/auth/token", data={"username": username, "password": password})
            assert response.status_code == 200, response.text
            self._tokens[username] = {"Authorization": f"Bearer {response.json()['access_token']}"}
        return self._tokens[username]


@pytest.fixture
def live_api(live_server: str) -> Iterator[LiveApi]:
    with LiveApi(live_server) as client:
        yield client


# --- the browser -------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """One headless Chromium per test process (Debian's package, not a Playwright download)."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium; .ci/run does)")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield instance
        finally:
            instance.close()


def _context(browser, **options):  # noqa: ANN001, ANN202
    from playwright.sync_api import expect

    context = browser.new_context(locale="vi-VN", timezone_id="Asia/Ho_Chi_Minh", **options)
    context.set_default_timeout(10_000)
    # `expect` waits 5 s by default, less than the page's own waits: a dashboard that reloads two
    # reports after a scope change on a loaded 2-core CI machine took longer once.
    expect.set_options(timeout=10_000)
    return context


@pytest.fixture
def browser_page(browser) -> Iterator[object]:  # noqa: ANN001
    """A fresh page (own cookies and storage) in a desktop-sized window; closed after the test."""
    context = _context(browser, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def browser_phone_page(browser) -> Iterator[object]:  # noqa: ANN001
    """A phone: 390×844 CSS pixels, touch, mobile viewport meta honoured."""
    context = _context(browser, viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def browser_nojs_page(browser) -> Iterator[object]:  # noqa: ANN001
    """A page with JavaScript disabled, for the plain-HTML fallbacks."""
    context = _context(browser, viewport=PHONE, java_script_enabled=False)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def screenshot(tmp_path: Path) -> Callable[..., Path]:
    def _take(page, name: str, *, full_page: bool = True) -> Path:  # noqa: ANN001
        path = tmp_path / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        if target := os.environ.get("MOTCUA_SCREENSHOT_DIR"):
            Path(target).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, Path(target) / path.name)
        return path

    return _take
