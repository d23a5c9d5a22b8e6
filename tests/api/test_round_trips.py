"""How many statements the hot requests send: each is a round trip to PostgreSQL, and round trips
are what an intake, an action and a citizen lookup mostly wait on (docs/BENCHMARKS.md). A change
that reads a row twice or splits an insert shows up here, not only in a benchmark."""

from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import event

from tests.workflows.test_scenarios import act, intake_body, required_documents

# Without BEGIN/COMMIT. Intake: principal, procedure, agency, calendar overrides, division, day
# number, dossier, event, outbox (both rows in one INSERT). Forward: principal, dossier (locked),
# procedure, overrides, dossier update, step record, event, division, outbox.
# Lookup: the dossier with its procedure, agency and division, timeline, shipments, both rate-limit counters.
MOST = {"intake": 9, "forward": 9, "lookup": 4}


@contextmanager
def counting(engine):  # noqa: ANN001, ANN201
    sent: list[str] = []

    def on_execute(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001, ANN202
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK")):
            sent.append(statement)

    event.listen(engine, "before_cursor_execute", on_execute)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)


def test_hot_requests_stay_within_their_round_trips(client, login, engine):  # noqa: ANN001
    desk = login("motcua")
    body = intake_body(documents=required_documents(client, desk))
    client.post("/api/v1/dossiers", json=body, headers=desk)  # warm: first-use reads of the process
    with counting(engine) as sent:
        made = client.post("/api/v1/dossiers", json=body, headers=desk)
    assert made.status_code == 201, made.text
    assert len(sent) <= MOST["intake"], "\n".join(sent)

    with counting(engine) as sent:
        act(client, desk, made.json(), "forward")
    assert len(sent) <= MOST["forward"], "\n".join(sent)

    with counting(engine) as sent:
        found = client.post("/api/v1/public/lookup",
                            json={"code": made.json()["code"], "secret": made.json()["lookup_secret"]})
    assert found.status_code == 200, found.text
    assert len(sent) <= MOST["lookup"], "\n".join(sent)
