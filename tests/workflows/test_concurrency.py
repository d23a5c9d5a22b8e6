"""Concurrency: codes stay consecutive and unique, conflicting actions never both win,
duplicate idempotent requests create one dossier. Threads with their own sessions, on both
databases (PostgreSQL row locks; SQLite's single writer)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from sqlmodel import select

from app.api.idempotency import fingerprint, run_idempotent
from app.auth.principal import principal_for
from app.db import transaction
from app.effects import Context
from app.errors import DomainError
from app.models import Dossier, DossierEvent
from app.workflows import actions
from app.workflows.intake import receive as receive_dossier
from app.workflows.schemas import ActionIn, IntakeIn
from tests.workflows.test_scenarios import PROCEDURE, intake_body, receive


principal = principal_for


def intake(app, clock, documents) -> str:
    with transaction(app.state.sessionmaker) as session:
        ctx = Context(principal(session, "motcua"), clock.now(), app.state.settings)
        dossier, _ = receive_dossier(session, IntakeIn.model_validate(intake_body(documents=documents)), ctx)
        return dossier.code


def test_fifty_parallel_intakes_get_fifty_consecutive_codes(app, client, login, clock):
    desk = login("motcua")
    procedure = client.get(f"/api/v1/procedures/{PROCEDURE}", headers=desk).json()
    documents = [{"name": d["name"]} for d in procedure["required_documents"]]
    with ThreadPoolExecutor(max_workers=10) as pool:
        codes = list(pool.map(lambda _: intake(app, clock, documents), range(50)))
    numbers = sorted(int(code.rsplit("-", 1)[1]) for code in codes)
    assert numbers == list(range(1, 51))
    assert len(set(codes)) == 50


def test_two_conflicting_actions_exactly_one_wins(app, client, login, clock):
    dossier = receive(client, login)
    barrier = threading.Barrier(2, timeout=30)
    outcomes: list[str] = []

    def attempt(action: str, body: dict) -> None:
        with app.state.sessionmaker() as session:
            ctx = Context(principal(session, "motcua"), clock.now(), app.state.settings)
            session.commit()  # end the read: on SQLite every transaction holds the single write lock
            barrier.wait()
            try:
                actions.act(session, dossier["code"], action, ActionIn(**body), ctx, dossier["version"])
                session.commit()
                outcomes.append(f"{action}:ok")
            except DomainError as exc:
                session.rollback()
                outcomes.append(f"{action}:{exc.status_code}")

    threads = [threading.Thread(target=attempt, args=("forward", {})),
               threading.Thread(target=attempt, args=("withdraw", {"reason": "Người nộp rút"}))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(o.split(":")[1] for o in outcomes) == ["412", "ok"], outcomes
    with app.state.sessionmaker() as session:
        stored = session.exec(select(Dossier).where(Dossier.code == dossier["code"])).one()
        events = session.exec(select(DossierEvent).where(DossierEvent.dossier_id == stored.id)).all()
        assert stored.version == 2 and len(events) == 2


def test_concurrent_duplicates_with_one_idempotency_key_create_one_dossier(app, client, login, clock):
    desk = login("motcua")
    procedure = client.get(f"/api/v1/procedures/{PROCEDURE}", headers=desk).json()
    data = IntakeIn.model_validate(intake_body(documents=[{"name": d["name"]} for d in procedure["required_documents"]]))
    barrier = threading.Barrier(4, timeout=30)
    bodies: list[bytes] = []

    def attempt() -> None:
        with app.state.sessionmaker() as session:
            who = principal(session, "motcua")
            ctx = Context(who, clock.now(), app.state.settings)
            session.commit()
            barrier.wait()

            def work():
                dossier, secret = receive_dossier(session, data, ctx)
                return service_summary(dossier, secret)

            response = run_idempotent(session, scope=f"user:{who.id}", key="same-key", now=clock.now(),
                                      status_code=201, request_hash=fingerprint("POST", "/api/v1/dossiers", data),
                                      work=work)
            session.commit()
            bodies.append(response.body)

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(bodies) == 4 and len(set(bodies)) == 1
    with app.state.sessionmaker() as session:
        assert len(session.exec(select(Dossier)).all()) == 1


def service_summary(dossier, secret):
    from pydantic import BaseModel

    class Created(BaseModel):
        code: str
        secret: str

    return Created(code=dossier.code, secret=secret)
