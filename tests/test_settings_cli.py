"""Settings refuse unsafe production values; the operators' CLI answers clearly."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from app.cli import app as cli
from app.settings import Settings


def test_default_secret_refused_outside_dev():
    Settings(env="dev")  # fine for a laptop
    with pytest.raises(ValidationError, match="MOTCUA_JWT_SECRET"):
        Settings(env="prod")
    with pytest.raises(ValidationError, match="at least 32"):
        Settings(env="prod", jwt_secret="short")


def test_bad_working_hours_refused():
    with pytest.raises(ValidationError):
        Settings(working_hours="17:00-07:30")


def test_secret_masked_in_repr():
    settings = Settings(env="dev", jwt_secret="a-very-secret-value-that-is-long-enough")
    assert "a-very-secret" not in repr(settings)


@pytest.fixture
def cli_env(monkeypatch, settings, demo, tmp_path):
    from app.settings import get_settings

    monkeypatch.setenv("MOTCUA_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("MOTCUA_DEMO_PKI_DIR", str(tmp_path / "pki"))
    monkeypatch.setenv("MOTCUA_PASSWORD_TIME_COST", "1")
    monkeypatch.setenv("MOTCUA_PASSWORD_MEMORY_COST", "1024")
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_cli_create_agency_and_user(cli_env):
    runner = cli_env
    ok = runner.invoke(cli, ["create-agency", "--code", "000.00.19.H28", "--name", "Sở GD&ĐT thử"])
    assert ok.exit_code == 0, ok.output
    dup = runner.invoke(cli, ["create-agency", "--code", "000.00.19.H28", "--name", "Trùng"])
    assert dup.exit_code == 1 and "đã tồn tại" in dup.output
    user = runner.invoke(cli, ["create-user", "--username", "lan2", "--password", "matkhau123", "--full-name",
                               "Lan", "--agency-code", "000.00.19.H28", "--role", "desk"])
    assert user.exit_code == 0, user.output
    unknown = runner.invoke(cli, ["create-user", "--username", "lan3", "--password", "matkhau123", "--full-name",
                                  "Lan", "--agency-code", "NOPE", "--role", "desk"])
    assert unknown.exit_code == 1 and "NOPE" in unknown.output
    bad_role = runner.invoke(cli, ["create-user", "--username", "lan4", "--password", "matkhau123", "--full-name",
                                   "Lan", "--agency-code", "000.00.19.H28", "--role", "king"])
    assert bad_role.exit_code == 1 and "Vai trò" in bad_role.output


def test_cli_seed_demo_is_idempotent(cli_env):
    first = cli_env.invoke(cli, ["seed-demo"])
    assert first.exit_code == 0, first.output
    assert "agencies=0" in first.output and "users=0" in first.output  # the fixture already seeded
    assert "procedures_created=0" in first.output
    pki = Path(os.environ["MOTCUA_DEMO_PKI_DIR"])  # the demo CA and agency certificate (labelled DEMO)
    assert "DEMO" in first.output and (pki / "agency-demo.p12").is_file() and (pki / "demo-ca.pem").is_file()


def test_the_demo_dossiers_come_with_ratings_and_feedback(cli_env, engine):
    from sqlmodel import Session, func, select

    from app.feedback.models import Feedback, SatisfactionRating

    made = cli_env.invoke(cli, ["seed-demo"])
    assert made.exit_code == 0, made.output
    with Session(engine) as session:
        ratings = session.exec(select(func.count()).select_from(SatisfactionRating)).one()
        statuses = sorted(session.exec(select(Feedback.status)).all())
    assert ratings == 4  # every returned demo dossier rated, once: the dashboard's satisfaction cards
    assert statuses == ["answered", "new"]  # one answered by the Deputy Director, one in the queue


def test_second_seed_demo_keeps_an_admins_catalogue_edit_and_prints_the_demo_code_again(cli_env, engine, clock):
    from sqlmodel import Session

    from app.catalog.demo_dossiers import DEMO_SECRET
    from app.catalog.schemas import ProcedureUpdate
    from app.catalog.service import get_procedure, set_active, update_procedure
    from app.db import make_sessionmaker, transaction

    first = cli_env.invoke(cli, ["seed-demo"])
    assert first.exit_code == 0, first.output
    code_line = next(line for line in first.output.splitlines() if "mã tra cứu" in line)
    assert DEMO_SECRET in code_line
    with transaction(make_sessionmaker(engine)) as session:
        procedure = get_procedure(session, "2.001914")
        update_procedure(session, "2.001914", ProcedureUpdate(time_limit_value=procedure.time_limit_value + 3,
                                                              fee_note="Sửa bởi quản trị viên"),
                         scope_agency_id=procedure.agency_id, now=clock.now())
        edited = procedure.time_limit_value
        set_active(session, "1.005074", False, scope_agency_id=procedure.agency_id, now=clock.now())
        session.delete(get_procedure(session, "1.006444"))  # a missing demo procedure is created again

    again = cli_env.invoke(cli, ["seed-demo"])
    assert again.exit_code == 0, again.output
    assert "procedures_created=1" in again.output and "dossiers=0" in again.output
    assert code_line in again.output.splitlines()  # the same demo code and secret, printed again
    with Session(engine) as session:
        procedure = get_procedure(session, "2.001914")
        assert procedure.time_limit_value == edited and procedure.fee_note == "Sửa bởi quản trị viên"
        assert not get_procedure(session, "1.005074").is_active and get_procedure(session, "1.006444").is_active
