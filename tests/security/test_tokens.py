"""Issue 12 item 7: tokens end with the password. Changing or resetting a password, or
(de)activating the account, ends every token issued before (users.token_version, claim `ver`,
checked on every request); POST /api/v1/auth/password for the signed-in user."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from jose import jwt
from sqlmodel import select

from app.auth import service
from app.db import make_sessionmaker, transaction
from app.models import User
from tests.conftest import TEST_SECRET

ME, PASSWORD = "/api/v1/auth/me", "/api/v1/auth/password"


def token(client, username: str, password: str = "demo1234") -> dict[str, str]:  # noqa: ANN001
    response = client.post("/api/v1/auth/token", data={"username": username, "password": password})
    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def change(client, headers, current: str, new: str):  # noqa: ANN001, ANN201
    return client.post(PASSWORD, json={"current_password": current, "new_password": new}, headers=headers)


def test_changing_the_password_ends_earlier_tokens(client, demo):  # noqa: ANN001
    first, second = token(client, "motcua"), token(client, "motcua")
    assert client.get(ME, headers=first).status_code == 200
    changed = change(client, first, "demo1234", "mat-khau-moi-2026")
    assert changed.status_code == 200, changed.text
    assert changed.headers["Cache-Control"] == "no-store"
    fresh = {"Authorization": f"Bearer {changed.json()['access_token']}"}
    for old in (first, second):
        refused = client.get(ME, headers=old)
        assert refused.status_code == 401 and refused.json()["code"] == "invalid_token"
        assert "đăng nhập lại" in refused.json()["message"]
    assert client.get(ME, headers=fresh).json()["username"] == "motcua"
    assert client.post("/api/v1/auth/token", data={"username": "motcua", "password": "demo1234"}).status_code == 401
    assert client.get(ME, headers=token(client, "motcua", "mat-khau-moi-2026")).status_code == 200


@pytest.mark.parametrize(("new", "reason"), [
    ("ngan1", "ít nhất 8 ký tự"),
    ("chi-co-chu-thoi", "cả chữ và số"),
    ("12345678901", "cả chữ và số"),
    ("motcua-2026-abc", "tên đăng nhập"),
    ("demo1234", "khác mật khẩu hiện tại"),
])
def test_weak_new_passwords_are_refused_in_vietnamese(client, demo, new, reason):  # noqa: ANN001
    headers = token(client, "motcua")
    response = change(client, headers, "demo1234", new)
    assert response.status_code == 422 and response.json()["code"] == "weak_password"
    assert reason in response.json()["message"]
    assert client.get(ME, headers=headers).status_code == 200  # nothing changed


def test_wrong_current_password_is_refused_and_throttled(client, demo):  # noqa: ANN001
    headers = token(client, "chuyenvien")
    for _ in range(10):
        wrong = change(client, headers, "not-my-password", "mat-khau-moi-2026")
        assert wrong.status_code == 422 and wrong.json()["code"] == "wrong_password"
        assert wrong.json()["message"] == "Mật khẩu hiện tại không đúng."
    limited = change(client, headers, "demo1234", "mat-khau-moi-2026")
    assert limited.status_code == 429 and limited.headers["Retry-After"]
    assert client.get(ME, headers=headers).status_code == 200  # still signed in, password unchanged


def test_password_change_needs_a_valid_token(client, demo):  # noqa: ANN001
    anonymous = client.post(PASSWORD, json={"current_password": "demo1234", "new_password": "mat-khau-moi-2026"})
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "not_authenticated"
    assert client.post(PASSWORD, json={"current_password": "x"}, headers=token(client, "motcua")).status_code == 422


def test_reset_and_deactivation_end_earlier_tokens(client, demo, engine, settings):  # noqa: ANN001
    factory = make_sessionmaker(engine)
    desk, leader = token(client, "motcua"), token(client, "truongphong")
    with transaction(factory) as session:
        service.reset_password(session, username="motcua", new_password="dat-lai-2026", settings=settings)
    assert client.get(ME, headers=desk).status_code == 401
    assert client.get(ME, headers=token(client, "motcua", "dat-lai-2026")).status_code == 200

    with transaction(factory) as session:
        service.set_active(session, username="truongphong", active=False)
    assert client.get(ME, headers=leader).status_code == 401
    assert client.post("/api/v1/auth/token",
                       data={"username": "truongphong", "password": "demo1234"}).status_code == 401
    with transaction(factory) as session:
        service.set_active(session, username="truongphong", active=True)
    assert client.get(ME, headers=leader).status_code == 401  # reactivation does not revive old tokens
    assert client.get(ME, headers=token(client, "truongphong")).status_code == 200
    with transaction(factory) as session:
        versions = dict(session.exec(select(User.username, User.token_version)).all())
    assert versions["motcua"] == 1 and versions["truongphong"] == 2 and versions["giamdoc"] == 0


def test_any_write_of_the_password_hash_bumps_the_version(session, demo, settings):  # noqa: ANN001
    """The mechanism is on the model: whichever code writes the hash or is_active."""
    user = session.exec(select(User).where(User.username == "chuyenvien")).one()
    session.expire(user)  # not loaded: the old value is read before the write
    user.password_hash = "$argon2id$other"
    user.is_active = True  # unchanged: no bump
    session.flush()
    assert user.token_version == 1
    session.rollback()


def _forge(claims: dict) -> dict[str, str]:
    now = datetime.now(UTC)
    base = {"sub": "1", "iss": "motcua", "aud": "motcua-api", "iat": int(now.timestamp()),
            "exp": int((now + timedelta(minutes=5)).timestamp())}
    return {"Authorization": "Bearer " + jwt.encode(base | claims, TEST_SECRET, algorithm="HS256")}


def test_tokens_without_a_valid_version_are_refused(client, demo, session):  # noqa: ANN001
    user_id = str(session.exec(select(User.id).where(User.username == "motcua")).one())
    session.rollback()
    assert client.get(ME, headers=_forge({"sub": user_id, "ver": 0})).status_code == 200
    for claims in ({"sub": user_id}, {"sub": user_id, "ver": "0"}, {"sub": user_id, "ver": 1},
                   {"sub": user_id, "ver": -1}, {"sub": user_id, "ver": 10**30}, {"sub": user_id, "ver": True}):
        response = client.get(ME, headers=_forge(claims))
        assert response.status_code == 401 and response.json()["code"] == "invalid_token", claims


def test_cli_reset_password_and_deactivation(client, demo, settings, monkeypatch):  # noqa: ANN001
    from typer.testing import CliRunner

    from app.cli import app as cli
    from app.settings import get_settings

    for name, value in (("DATABASE_URL", settings.database_url), ("JWT_SECRET", TEST_SECRET),
                        ("PASSWORD_TIME_COST", "1"), ("PASSWORD_MEMORY_COST", "1024")):
        monkeypatch.setenv(f"MOTCUA_{name}", value)
    get_settings.cache_clear()
    headers = token(client, "baocao")
    try:
        runner = CliRunner()
        weak = runner.invoke(cli, ["reset-password", "--username", "baocao", "--password", "short"])
        assert weak.exit_code == 1 and "ít nhất 8 ký tự" in weak.output
        assert client.get(ME, headers=headers).status_code == 200
        reset = runner.invoke(cli, ["reset-password", "--username", "baocao", "--password", "bao-cao-2027"])
        assert reset.exit_code == 0, reset.output
        assert client.get(ME, headers=headers).status_code == 401
        headers = token(client, "baocao", "bao-cao-2027")
        locked = runner.invoke(cli, ["set-user-active", "--username", "baocao", "--inactive"])
        assert locked.exit_code == 0 and "khóa" in locked.output
        assert client.get(ME, headers=headers).status_code == 401
        missing = runner.invoke(cli, ["set-user-active", "--username", "nobody", "--active"])
        assert missing.exit_code == 1 and "nobody" in missing.output
    finally:
        get_settings.cache_clear()
