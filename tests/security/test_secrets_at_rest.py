"""Issue 12 item 8: the lookup secret is never stored in clear (idempotency replays and outbox
payloads are sealed, app/sealing.py), and personal data never reaches a log line, failed writes
included (hide_parameters on the engines, redacted tracebacks in app/logging.py)."""

from __future__ import annotations

import json
import logging
from datetime import datetime

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import text
from sqlmodel import select

from app.db import make_sessionmaker, transaction
from app.effects import Context
from app.logging import JsonFormatter
from app.models import OutboxMessage
from app.sealing import Sealer, is_sealed, sealer_for
from app.workflows import intake
from app.workflows.schemas import OnlineSubmissionIn
from tests.conftest import VN
from tests.workflows.test_scenarios import intake_body, required_documents

PERSONAL = ("Nguyễn Văn An", "001099012345", "0912345678", "an@example.vn")


def raw(engine, table: str, column: str) -> list[str]:  # noqa: ANN001
    """What the database holds, read without the model's types (JSON text)."""
    with engine.connect() as conn:
        values = [value for (value,) in conn.execute(text(f"SELECT {column} FROM {table}"))]
    return [value if isinstance(value, str) else json.dumps(value, ensure_ascii=False) for value in values]


def test_idempotent_replay_returns_the_secret_but_stores_it_sealed(client, login, engine):  # noqa: ANN001
    desk = login("motcua")
    body = intake_body(documents=required_documents(client, desk))
    headers = {**desk, "Idempotency-Key": "intake-0001"}
    first = client.post("/api/v1/dossiers", json=body, headers=headers)
    assert first.status_code == 201, first.text
    secret = first.json()["lookup_secret"]
    replay = client.post("/api/v1/dossiers", json=body, headers=headers)
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json() and replay.json()["lookup_secret"] == secret
    stored = raw(engine, "idempotency_keys", "response_body")
    assert len(stored) == 1 and is_sealed(json.loads(stored[0]))
    for value in (secret, secret.replace("-", ""), *PERSONAL, first.json()["code"]):
        assert value not in stored[0], value


def test_outbox_payloads_are_sealed_and_read_back(app, client, login, engine, clock):  # noqa: ANN001
    procedure = client.get("/api/v1/procedures/2.001914", headers=login("motcua")).json()
    submission = OnlineSubmissionIn(
        portal_id="DVC-2026-000777", procedure_code="2.001914", agency_code="000.00.17.H26",
        applicant={"full_name": "Nguyễn Văn An", "id_number": "001099012345", "phone": "0912345678",
                   "email": "an@example.vn"},
        submitted_at=datetime(2026, 11, 22, 21, 0, tzinfo=VN), online_level="full",
        documents=[{"name": d["name"]} for d in procedure["required_documents"]])
    with transaction(app.state.sessionmaker) as session:
        dossier, secret = intake.submit_online(session, submission, Context(None, clock.now(), app.state.settings))
        dossier_id = dossier.id
    assert secret
    stored = raw(engine, "outbox", "payload")
    assert stored and all(is_sealed(json.loads(value)) for value in stored)
    for value in stored:
        for private in (secret, secret.replace("-", ""), *PERSONAL):
            assert private not in value, private
    # The senders read it back whole: the `submitted` SMS still gives the applicant their secret.
    with make_sessionmaker(engine)() as session:
        notes = session.exec(select(OutboxMessage).where(OutboxMessage.dossier_id == dossier_id,
                                                         OutboxMessage.topic == "notify")).all()
    assert [m.kind for m in notes] == ["submitted"]
    assert secret in notes[0].payload["text"] and notes[0].payload["to_phone"] == "0912345678"


def test_sealing_keys(settings):  # noqa: ANN001
    sealer = sealer_for(settings)
    sealed = sealer.seal({"text": "Mã bí mật tra cứu: K7QM4-XPT2B"})
    assert set(sealed) == {"fernet"} and "K7QM4" not in sealed["fernet"]
    assert sealer.open(sealed) == {"text": "Mã bí mật tra cứu: K7QM4-XPT2B"}
    assert sealer.open({"n": 1}) == {"n": 1}  # written before sealing: read as is
    other = Sealer("another-key-of-at-least-32-characters!!")
    assert other.open(sealed) == {"unreadable": True}  # a wrong key never raises
    explicit = settings.model_copy(update={"data_key": SecretStr("k" * 32)})
    assert sealer_for(explicit).open(sealer_for(explicit).seal([1])) == [1]
    assert sealer_for(explicit).open(sealed) == {"unreadable": True}  # the key comes from MOTCUA_DATA_KEY


# --- logs ------------------------------------------------------------------------------------

@pytest.fixture(params=["update", "insert"])
def failing_intake(request, monkeypatch):  # noqa: ANN001, ANN201
    """The intake's write fails after the applicant's data reached the database: a NOT NULL
    violation, whose PostgreSQL error repeats the whole row ("Failing row contains (...)"), or a
    duplicate insert, whose statement parameters are the applicant's data."""
    from app.models import Dossier

    real = intake.receive

    def receive(session, data, ctx):  # noqa: ANN001, ANN202
        dossier, secret = real(session, data, ctx)
        if request.param == "update":
            dossier.status = None
            session.add(dossier)
        else:
            session.add(Dossier(**dossier.model_dump(exclude={"id"})))  # the same code again
        session.flush()
        return dossier, secret

    monkeypatch.setattr(intake, "receive", receive)


def _logged(records: list[logging.LogRecord], caplog_text: str) -> str:
    formatter = JsonFormatter()
    return caplog_text + "\n".join(formatter.format(r) for r in records)


def test_a_failed_write_logs_no_personal_data(app, login, failing_intake, caplog, capfd):  # noqa: ANN001
    desk = login("motcua")
    with TestClient(app, raise_server_exceptions=False) as client:
        body = intake_body(documents=required_documents(client, desk))
        body["applicant"]["email"] = "an@example.vn"
        with caplog.at_level(logging.DEBUG):
            response = client.post("/api/v1/dossiers", json=body, headers=desk)
    assert response.status_code == 500 and response.json()["code"] == "internal_error"
    assert "Nguyễn" not in response.text
    failures = [r for r in caplog.records if r.exc_info]
    assert failures, "the failure is logged"
    logged = _logged(caplog.records, caplog.text) + capfd.readouterr().err
    assert "IntegrityError" in logged and "values not logged" in logged
    for private in (*PERSONAL, "pbkdf2$"):
        assert private not in logged, private


def test_sqlalchemy_errors_carry_no_parameters(engine, demo):  # noqa: ANN001
    """hide_parameters: even outside the app's loggers, the exception text names no value."""
    from sqlalchemy.exc import IntegrityError

    with engine.connect() as conn, pytest.raises(IntegrityError) as caught:
        conn.execute(text("INSERT INTO users (username, full_name, password_hash, agency_id, roles, is_active,"
                          " created_at, token_version, phone) VALUES ('motcua', 'Nguyễn Văn An', 'x', 1, '[]',"
                          " true, CURRENT_TIMESTAMP, 0, :phone)"), {"phone": "0912345678"})
    assert "0912345678" not in str(caught.value) and "parameters hidden" in str(caught.value)


def test_validation_errors_inside_the_service_log_no_input(caplog):  # noqa: ANN001
    from pydantic import BaseModel

    from app.logging import install_redaction

    class Applicant(BaseModel):
        phone: int

    install_redaction()  # done by configure_logging (create_app, the scheduler)
    typed = {"phone": "-".join(PERSONAL[2::-2])}  # "0912345678-Nguyễn Văn An", not on the line shown
    with caplog.at_level(logging.ERROR):
        try:
            Applicant(**typed)
        except Exception:  # noqa: BLE001
            logging.getLogger("motcua.test").exception("failed")
    assert "phone: int_parsing" in caplog.text
    assert "0912345678" not in caplog.text and "Nguyễn" not in caplog.text
