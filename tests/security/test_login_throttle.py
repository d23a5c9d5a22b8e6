"""Issue 12 item 4: failed logins are limited per username and per address (429, Retry-After, the
error shape), on the shared counters; password hashing is bounded per worker (a semaphore)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient

from app.auth import passwords
from app.errors import Unavailable
from tests.conftest import make_settings

TOKEN = "/api/v1/auth/token"


def login(client: TestClient, username: str, password: str, **kwargs):  # noqa: ANN201
    return client.post(TOKEN, data={"username": username, "password": password}, **kwargs)


@pytest.fixture
def hashes(monkeypatch) -> list[str]:  # noqa: ANN001
    """Records every password check the service computes."""
    from app.auth import service

    seen: list[str] = []
    real = service.verify_password

    def spy(password, password_hash, settings):  # noqa: ANN001, ANN202
        seen.append(password)
        return real(password, password_hash, settings)

    monkeypatch.setattr(service, "verify_password", spy)
    return seen


def test_failures_per_username_then_429_with_retry_after(client, demo, clock, hashes):  # noqa: ANN001
    for _ in range(10):  # default: 10 failures per username per 15 minutes
        response = login(client, "motcua", "wrong-password")
        assert response.status_code == 401 and response.json()["code"] == "invalid_credentials"
    checked = len(hashes)
    clock.advance(seconds=60)
    limited = login(client, "motcua", "demo1234")  # even the right password: the limit is per username
    assert limited.status_code == 429
    body = limited.json()
    assert set(body) == {"code", "message", "detail"} and body["code"] == "too_many_attempts"
    assert body["detail"]["scope"] == "username" and "Vui lòng thử lại sau" in body["message"]
    assert limited.headers["Retry-After"] == str(body["detail"]["retry_after"]) == "840"  # 15-minute window, 1 gone
    assert len(hashes) == checked  # refused before any hash is computed
    assert login(client, "chuyenvien", "demo1234").status_code == 200  # another user, same address
    clock.advance(seconds=840)  # the next window
    assert login(client, "motcua", "demo1234").status_code == 200


def test_failures_per_address_across_usernames(engine, settings, client, demo, clock):  # noqa: ANN001
    from app.main import create_app

    proxied = create_app(make_settings(settings.database_url, trusted_proxies=["10.0.0.0/8"]), clock=clock,
                         engine=engine)
    attacker, citizen = {"X-Forwarded-For": "203.0.113.9"}, {"X-Forwarded-For": "203.0.113.10"}
    with TestClient(proxied, client=("10.0.0.5", 40000)) as behind_proxy:
        for i in range(30):  # default: 30 failures per address, whatever the usernames
            assert login(behind_proxy, f"guess{i}", "x", headers=attacker).status_code == 401
        limited = login(behind_proxy, "motcua", "demo1234", headers=attacker)
        assert limited.status_code == 429 and limited.json()["detail"]["scope"] == "address"
        assert int(limited.headers["Retry-After"]) > 0
        assert login(behind_proxy, "motcua", "demo1234", headers=citizen).status_code == 200


def test_successful_logins_are_not_failures(client, demo):  # noqa: ANN001
    for _ in range(25):
        assert login(client, "motcua", "demo1234").status_code == 200
    for _ in range(10):
        assert login(client, "motcua", "wrong").status_code == 401
    assert login(client, "motcua", "demo1234").status_code == 429


def test_concurrent_guesses_never_pass_the_limit(engine, settings, client, demo, clock):  # noqa: ANN001
    """Counted before the check: 40 parallel guesses, at most 10 are checked, the rest are 429."""
    def guess(_: int) -> int:
        return login(client, "truongphong", "wrong").status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(guess, range(40)))
    assert statuses.count(401) == 10 and statuses.count(429) == 30


def test_counters_are_shared_and_hold_no_username(engine, settings, client, demo, session):  # noqa: ANN001
    from sqlmodel import select

    from app.main import create_app
    from app.models import RateCounter

    other_worker = create_app(settings, clock=client.app.state.clock, engine=engine)
    with TestClient(other_worker) as second:
        for i in range(10):
            assert login(client if i % 2 else second, "giamdoc", "nope").status_code == 401
        assert login(second, "giamdoc", "demo1234").status_code == 429
        assert login(client, "giamdoc", "demo1234").status_code == 429
    keys = [row.key for row in session.exec(select(RateCounter)).all()]
    assert keys and not any("giamdoc" in k or "testclient" in k for k in keys)


# --- bounded hashing -------------------------------------------------------------------------

def test_at_most_the_configured_hashes_run_at_once(monkeypatch):  # noqa: ANN001
    settings = make_settings("sqlite://", password_hash_concurrency=2)
    running, most, lock = [0], [0], threading.Lock()

    class SlowHasher:
        def hash(self, password: str) -> str:
            with lock:
                running[0] += 1
                most[0] = max(most[0], running[0])
            time.sleep(0.02)
            with lock:
                running[0] -= 1
            return "hash"

        def verify(self, stored: str, password: str) -> bool:
            self.hash(password)
            return False

    monkeypatch.setattr(passwords, "hasher", lambda _: SlowHasher())
    monkeypatch.setattr(passwords, "_dummies", {})  # a fresh worker: the unknown-user hash is not made yet
    with ThreadPoolExecutor(max_workers=12) as pool:
        assert list(pool.map(lambda _: passwords.hash_password("p", settings), range(24))) == ["hash"] * 24
        # Unknown usernames: the dummy hash is made once, in a slot, then verified against.
        checks = pool.map(lambda _: passwords.verify_password("p", passwords.dummy_hash(settings), settings), range(24))
        assert not any(checks)
    assert most[0] == 2
    assert list(passwords._dummies.values()) == ["hash"]


def test_no_free_slot_answers_503_in_the_error_shape(engine, settings, clock, demo):  # noqa: ANN001
    from app.main import create_app

    settings = make_settings(settings.database_url, password_hash_concurrency=1, password_hash_wait_seconds=0.05)
    app = create_app(settings, clock=clock, engine=engine)
    with TestClient(app) as client, passwords.hashing_slot(settings):  # the only slot is taken
        busy = login(client, "motcua", "demo1234")
        with pytest.raises(Unavailable):
            passwords.verify_password("x", "y", settings)
    assert busy.status_code == 503 and busy.json()["code"] == "auth_busy" and busy.headers["Retry-After"]
    assert set(busy.json()) == {"code", "message", "detail"}
    with TestClient(app) as client:
        assert login(client, "motcua", "demo1234").status_code == 200


def test_argon2_parameters_are_stated_and_used():
    settings = make_settings("sqlite://", password_time_cost=3, password_memory_cost=65536)
    assert (settings.password_parallelism, settings.password_hash_concurrency) == (4, 2)
    encoded = passwords.hash_password("mật khẩu 123", settings)
    assert encoded.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert passwords.verify_password("mật khẩu 123", encoded, settings)
