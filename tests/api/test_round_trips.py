"""How many statements the hot requests send: each is a round trip to PostgreSQL, and round trips
are what an intake, an action and a citizen lookup mostly wait on (docs/BENCHMARKS.md). A change
that reads a row twice or splits an insert shows up here, not only in a benchmark."""

from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import event

from tests.workflows.test_scenarios import act, intake_body, ready, required_documents

# Without BEGIN/COMMIT. Agencies, procedures, users and calendars come from each worker's memory
# (app/reference.py); a change's step, event and outbox rows are one statement on PostgreSQL
# (app/effects.py `write_pending`). PostgreSQL: intake = day number, dossier, effects; forward =
# dossier (locked), its update, effects; lookup = the dossier with its procedure, agency and
# division (and whether it has payments, feedback, a rating, a package, a signed result), timeline,
# both rate-limit counters; a returned dossier with no package and no signed result costs the same.
# SQLite (no network) adds the reference version read per request (the lookup reads the calendar
# for the citizen's clock) and one insert per table.
MOST = {"postgresql": {"intake": 3, "forward": 3, "lookup": 3},
        "sqlite": {"intake": 5, "forward": 6, "lookup": 4}}


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


def test_hot_requests_stay_within_their_round_trips(client, login, engine, db_kind):  # noqa: ANN001
    most = MOST[db_kind]
    desk = login("motcua")
    body = intake_body(documents=required_documents(client, desk))
    client.post("/api/v1/dossiers", json=body, headers=desk)  # warm: first-use reads of the process
    with counting(engine) as sent:
        made = client.post("/api/v1/dossiers", json=body, headers=desk)
    assert made.status_code == 201, made.text
    assert len(sent) <= most["intake"], "\n".join(sent)

    with counting(engine) as sent:
        act(client, desk, made.json(), "forward")
    assert len(sent) <= most["forward"], "\n".join(sent)

    with counting(engine) as sent:
        found = client.post("/api/v1/public/lookup",
                            json={"code": made.json()["code"], "secret": made.json()["lookup_secret"]})
    assert found.status_code == 200, found.text
    assert len(sent) <= most["lookup"], "\n".join(sent)


def test_a_returned_dossier_s_lookup_reads_no_package_or_signed_result_it_does_not_have(client, login, engine,  # noqa: ANN001
                                                                                    db_kind):
    desk, specialist, head, director = (login(u) for u in ("motcua", "chuyenvien", "truongphong", "giamdoc"))
    made = client.post("/api/v1/dossiers", json=intake_body(documents=required_documents(client, desk)),
                       headers=desk).json()
    dossier = act(client, desk, made, "forward", assignee="chuyenvien")
    dossier = act(client, head, act(client, specialist, dossier, "forward"), "forward")
    dossier = ready(client, director, desk, dossier, result_reference="123/QĐ-SGDĐT")
    dossier = act(client, desk, dossier, "return_result", method="desk", receiver_name="Nguyễn Văn An")
    assert dossier["status"] == "returned"
    with counting(engine) as sent:
        found = client.post("/api/v1/public/lookup", json={"code": made["code"], "secret": made["lookup_secret"]})
    assert found.status_code == 200, found.text
    assert found.json()["shipments"] == [] and found.json()["result_document"] is None
    assert len(sent) <= MOST[db_kind]["lookup"], "\n".join(sent)
