"""The event log exported as XES and OCEL 2.0, read back with pm4py (issue 17)."""

from __future__ import annotations

import json

import pm4py
import pytest
from sqlalchemy import select

from app.db import make_sessionmaker
from app.models import Dossier, Procedure
from app.statuses import event_label
from tests.foresight.history import generate

QUERY = "from=2025-11-01&to=2026-11-23"  # the whole generated year


@pytest.fixture
def history(engine, settings, demo, clock):  # noqa: ANN001, ANN201
    generate(engine, settings, now=clock.now(), dossiers=120, seed=5)
    with make_sessionmaker(engine)() as s:
        procedures = list(s.execute(select(Procedure)).scalars())
        dossiers = list(s.execute(select(Dossier)).scalars())
        return procedures, dossiers


def _vocabulary(procedures) -> set[str]:  # noqa: ANN001
    """Every workflow step name and every action label: what an activity may be."""
    from app.statuses import ACTION_LABELS, OTHER_EVENT_LABELS

    steps = {str(step["name"]) for p in procedures for step in p.workflow}
    return steps | set(ACTION_LABELS.values()) | set(OTHER_EVENT_LABELS.values())


def test_xes_loads_in_pm4py_and_mines_the_workflow(client, login, history, tmp_path):
    procedures, dossiers = history
    response = client.get(f"/api/v1/analysis/event-log.xes?{QUERY}", headers=login("baocao"))
    assert response.status_code == 200, response.text
    path = tmp_path / "log.xes"
    path.write_bytes(response.content)
    log = pm4py.read_xes(str(path))
    assert set(log["case:concept:name"]) and len(set(log["case:concept:name"])) == len(dossiers)
    activities = set(log["concept:name"])
    assert activities <= _vocabulary(procedures)
    assert event_label("resolve") in activities
    assert any(str(step["name"]) in activities for p in procedures for step in p.workflow)
    dfg, starts, ends = pm4py.discover_dfg(log)
    assert dfg and {a for pair in dfg for a in pair} == activities
    net, _, _ = pm4py.discover_petri_net_inductive(log)
    labels = {t.label for t in net.transitions if t.label}
    assert labels == activities
    # pseudonymised: no dossier code, no applicant, nothing personal
    text = response.content.decode()
    for d in dossiers[:20]:
        assert d.code not in text and d.applicant_name not in text and d.applicant_id_number not in text


def test_ocel_loads_in_pm4py(client, login, history, tmp_path):
    procedures, dossiers = history
    response = client.get(f"/api/v1/analysis/event-log.ocel.json?{QUERY}", headers=login("truongphong"))
    assert response.status_code == 200, response.text
    path = tmp_path / "log.jsonocel"
    path.write_bytes(response.content)
    ocel = pm4py.read_ocel2_json(str(path))
    assert set(ocel.objects["ocel:type"]) == {"dossier", "procedure"}
    assert (ocel.objects["ocel:type"] == "dossier").sum() == len(dossiers)
    activities = set(ocel.events["ocel:activity"])
    assert activities <= _vocabulary(procedures) and event_label("resolve") in activities
    flattened = pm4py.ocel_flattening(ocel, "dossier")
    net, _, _ = pm4py.discover_petri_net_inductive(flattened)
    assert {t.label for t in net.transitions if t.label} == activities
    document = json.loads(response.content)
    for d in dossiers[:20]:
        assert d.code not in response.text and d.applicant_name not in response.text
    assert all(o["id"].startswith(("dossier:", "procedure:")) for o in document["objects"])


def test_case_pseudonyms_are_stable_and_keyed(client, login, history, app):
    first = client.get(f"/api/v1/analysis/event-log.xes?{QUERY}", headers=login("baocao")).content
    again = client.get(f"/api/v1/analysis/event-log.xes?{QUERY}", headers=login("baocao")).content
    assert first == again
    from app.foresight.eventlog import pseudonymiser

    other = pseudonymiser(app.state.settings.model_copy(update={"data_key": None, "jwt_secret":
                                                                 __import__("pydantic").SecretStr("x" * 40)}))
    assert other(history[1][0].id).encode() not in first


def test_scope_and_bad_input(client, login, history):
    _, dossiers = history
    other = client.get(f"/api/v1/analysis/event-log.ocel.json?{QUERY}", headers=login("other_reporter"))
    assert other.status_code == 200 and json.loads(other.content)["events"] == []
    missing = client.get(f"/api/v1/analysis/event-log.xes?{QUERY}&procedure_code=9.999999", headers=login("baocao"))
    assert missing.status_code == 404
    assert client.get("/api/v1/analysis/event-log.xes?period=2026-Q7", headers=login("baocao")).status_code == 422
    assert client.get(f"/api/v1/analysis/event-log.xes?{QUERY}", headers=login("motcua")).status_code == 403
