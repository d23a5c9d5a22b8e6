"""Production guards (issue 12, item 10): demo data only in dev; the dev JWT secret never listens
beyond the loopback. (The no-store headers are in tests/security/test_hostile_input.py.)"""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from app.cli import app as cli
from app.settings import DEFAULT_JWT_SECRET, Settings, get_settings


@pytest.fixture
def runner(monkeypatch, tmp_path):  # noqa: ANN001, ANN201
    monkeypatch.chdir(tmp_path)  # no .env of the developer
    for name in ("MOTCUA_ENV", "MOTCUA_JWT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MOTCUA_DATABASE_URL", f"sqlite:///{tmp_path}/guard.db")
    calls: list[dict] = []
    monkeypatch.setattr("uvicorn.run", lambda *args, **kwargs: calls.append(kwargs))
    get_settings.cache_clear()
    yield CliRunner(), calls
    get_settings.cache_clear()


@pytest.mark.parametrize("env", ["test", "prod"])
def test_seed_demo_refuses_outside_dev(runner, monkeypatch, env):  # noqa: ANN001
    cli_runner, _ = runner
    monkeypatch.setenv("MOTCUA_ENV", env)
    monkeypatch.setenv("MOTCUA_JWT_SECRET", "a-real-secret-of-at-least-32-characters!")
    result = cli_runner.invoke(cli, ["seed-demo"])
    assert result.exit_code == 2 and "MOTCUA_ENV=dev" in result.output, result.output


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "motcua.example.vn"])
def test_serve_refuses_a_network_host_with_the_dev_secret(runner, host):  # noqa: ANN001
    cli_runner, calls = runner
    result = cli_runner.invoke(cli, ["serve", "--host", host])
    assert result.exit_code == 2 and "MOTCUA_JWT_SECRET" in result.output, result.output
    assert calls == []


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "[::1]", "localhost", "127.0.0.2"])
def test_serve_on_the_loopback_is_fine_in_dev(runner, host):  # noqa: ANN001
    cli_runner, calls = runner
    result = cli_runner.invoke(cli, ["serve", "--host", host])
    assert result.exit_code == 0, result.output
    assert calls and calls[0]["host"] == host


def test_serve_on_the_network_with_a_real_secret(runner, monkeypatch):  # noqa: ANN001
    cli_runner, calls = runner
    monkeypatch.setenv("MOTCUA_JWT_SECRET", "a-real-secret-of-at-least-32-characters!")
    assert cli_runner.invoke(cli, ["serve", "--host", "0.0.0.0"]).exit_code == 0  # dev, but not the default secret
    monkeypatch.setenv("MOTCUA_ENV", "prod")
    assert cli_runner.invoke(cli, ["serve", "--host", "0.0.0.0"]).exit_code == 0
    assert len(calls) == 2


def test_refusal_rule():
    dev = Settings(env="dev")
    assert dev.jwt_secret.get_secret_value() == DEFAULT_JWT_SECRET
    assert dev.refuse_to_serve("0.0.0.0") and dev.refuse_to_serve("10.0.0.1")
    assert dev.refuse_to_serve("127.0.0.1") is None and dev.refuse_to_serve("localhost") is None
