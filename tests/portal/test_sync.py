"""Portal sync through the outbox against the in-process mock portal: mapping, faults, order,
dead letters, re-login, and the online dossier from the portal back to the portal."""

from __future__ import annotations

import random
import warnings
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session, select

from app.access import get_dossier
from app.auth.principal import Principal, scope_agency_of
from app.catalog.service import get_procedure
from app.db import make_sessionmaker, transaction
from app.effects import Context
from app.models import Agency, Dossier, DossierEvent, OutboxMessage, User
from app.outbox import DispatchStats
from app.portal.client import PortalClient
from app.portal.mapping import portal_time
from app.portal.sync import dispatch_portal
from app.workflows import actions
from app.workflows.intake import receive as receive_dossier
from app.workflows.schemas import ActionIn, IntakeIn
from app.workflows.transitions import PORTAL_STATUS
from tests.conftest import VN

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

PROCEDURE = "2.001914"  # steps: specialist (division) → leader (division) → leader (Department) → desk


@pytest.fixture
def factory(engine, demo):  # noqa: ANN001, ANN201
    _principals.clear()  # each test seeds the demo users afresh
    return make_sessionmaker(engine)


_principals: dict[tuple[int, str], Principal] = {}


def principal(session: Session, username: str) -> Principal:
    """The demo user as the services see them (loaded once per test database)."""
    key = (id(session.get_bind()), username)
    cached = _principals.get(key)
    if cached is None:
        user = session.exec(select(User).where(User.username == username)).one()
        agency = session.get(Agency, user.agency_id)
        assert agency is not None
        cached = _principals[key] = Principal(user=user, roles=frozenset(user.roles),
                                              scope_agency_id=scope_agency_of(agency), agency=agency)
    return cached


def intake(session: Session, settings, now: datetime, n: int, **over: Any) -> Dossier:  # noqa: ANN001
    procedure = get_procedure(session, PROCEDURE, active_only=True)
    body = {
        "procedure_code": PROCEDURE, "channel": "direct",
        "applicant": {"full_name": "Nguyễn Văn An", "id_number": f"0010990{n:05d}", "phone": "0912345678",
                      "address": "Số 5 Lê Lợi"},
        "documents": [{"name": d["name"]} for d in procedure.required_documents],
    } | over
    dossier, _ = receive_dossier(session, IntakeIn(**body), Context(principal(session, "motcua"), now, settings))
    return dossier


def act(session: Session, settings, now: datetime, code: str, username: str, action: str, *,  # noqa: ANN001
        version: int | None = None, **body: Any) -> Dossier:
    who = principal(session, username)
    if version is None:
        version = get_dossier(session, code, who).version
    return actions.act(session, code, action, ActionIn(**body), Context(who, now, settings), version)


# One dossier's life in ten state changes: every portal status a processed dossier can take.
LIFE: list[tuple[str, str, dict[str, Any]]] = [
    ("motcua", "forward", {"assignee": "chuyenvien"}),
    ("chuyenvien", "request_supplement", {"items": ["Bản sao văn bằng"]}),
    ("motcua", "supplement_received", {}),
    ("chuyenvien", "request_payment", {"fee": 50_000}),
    ("motcua", "payment_confirmed", {}),
    ("chuyenvien", "forward", {}),
    ("truongphong", "forward", {}),
    ("giamdoc", "forward", {"result_reference": "12/QĐ-SGDĐT"}),
    ("motcua", "resolve", {}),
    ("motcua", "return_result", {"method": "desk", "receiver_name": "Nguyễn Văn An"}),
]
EXPECTED_STATUSES = [2, 4, 5, 4, 6, 4, 9, 10]


def held(portal: TestClient, code: str) -> dict[str, Any]:
    return portal.get("/_control/state").json()["dossiers"][code]


def portal_rows(factory) -> list[OutboxMessage]:  # noqa: ANN001
    with factory() as session:
        return list(session.exec(select(OutboxMessage).where(OutboxMessage.topic == "portal")
                                 .order_by(OutboxMessage.id)).all())


def drain(factory, settings, now: datetime, client: PortalClient, *, rounds: int = 50) -> DispatchStats:  # noqa: ANN001
    total = DispatchStats()
    for _ in range(rounds):
        stats = dispatch_portal(factory, settings, now, client, rng=random.Random(0))
        total += stats
        if stats.processed == 0:
            return total
    raise AssertionError(f"outbox not drained: {total}")


def collapse(statuses: list[int]) -> list[int]:
    return [s for i, s in enumerate(statuses) if i == 0 or statuses[i - 1] != s]


# --- mapping against the mock's validation ---------------------------------------------------

def test_new_dossier_syncs_and_progress_follows(factory, settings, clock, portal, portal_client):  # noqa: ANN001
    now = clock.now()
    with transaction(factory) as session:
        code = intake(session, settings, now, 1).code
    with transaction(factory) as session:
        act(session, settings, clock.advance(minutes=5), code, "motcua", "forward", assignee="chuyenvien")
    stats = drain(factory, settings, clock.now(), portal_client)
    assert stats.sent == 2 and stats.dead == 0
    record = held(portal, code)
    assert [h["TrangThaiHoSo"] for h in record["LichSuTrangThai"]] == [2, 4]
    assert record["KenhThucHien"] == 1 and record["DonViXuLy"] == "000.00.17.H26"
    assert record["NgayTiepNhan"] == portal_time(now) and record["NgayHenTra"]
    assert "NgayTra" not in record and "NgayHenTraMoi" not in record  # absent, not null
    assert [r["TrangThai"] for r in record["QuaTrinhXuLy"]] == [2, 4]
    with factory() as session:
        assert session.exec(select(Dossier).where(Dossier.code == code)).one().portal_synced_at == clock.now()
    # Every portal row was sent with its outbox id as the idempotency key.
    keys = portal.get("/_control/state").json()["idempotency_keys"]
    assert sorted(keys) == sorted(str(m.id) for m in portal_rows(factory))


def test_supplement_at_intake_and_records_on_sync(factory, settings, clock, portal, portal_client):  # noqa: ANN001
    with transaction(factory) as session:
        dossier = intake(session, settings, clock.now(), 2, documents=[], decision="request_supplement",
                         missing_items=["Đơn đề nghị", "Bản sao văn bằng"])
        code = dossier.code
    assert drain(factory, settings, clock.now(), portal_client).sent == 1
    record = held(portal, code)
    assert record["TrangThaiHoSo"] == 5 and "NgayTiepNhan" not in record and "NgayHenTra" not in record
    [row] = record["DanhSachBoSung"]
    assert row["NoiDungBoSung"].startswith("Đơn đề nghị; Bản sao văn bằng")
    assert row["TrangThaiBoSung"] == 0 and row["NguoiYeuCauBoSung"] and row["NgayBoSung"] == portal_time(clock.now())
    with transaction(factory) as session:
        act(session, settings, clock.advance(hours=2), code, "motcua", "supplement_received")
    assert drain(factory, settings, clock.now(), portal_client).sent == 1
    record = held(portal, code)
    assert record["TrangThaiHoSo"] == 2 and record["NgayTiepNhan"] and record["NgayHenTra"]
    [row] = record["DanhSachBoSung"]
    assert row["TrangThaiBoSung"] == 1 and row["NgayTiepNhanBoSung"] == portal_time(clock.now())
    assert row["NgayHenTraMoi"] == record["NgayHenTra"]


def test_issued_apology_sends_the_new_appointment(factory, settings, clock, portal, portal_client):  # noqa: ANN001
    from app.portal.mapping import dossier_payload
    from app.models import Procedure

    with transaction(factory) as session:
        dossier = intake(session, settings, clock.now(), 3)
        procedure = session.get(Procedure, dossier.procedure_id)
        agency = session.get(Agency, dossier.agency_id)
        dossier.new_due_at = dossier.due_at + timedelta(days=3)
        item = dossier_payload(dossier, procedure, agency)
        session.rollback()
    assert item["NgayHenTra"] == portal_time(dossier.due_at)
    assert item["NgayHenTraMoi"] == portal_time(dossier.due_at + timedelta(days=3))
    # The mock validates it as a date.
    item["QuaTrinhXuLy"] = []
    assert portal_client.sync_dossiers([item], is_updating=False, idempotency_key="apology")["error_code"] == 0


# --- faults ----------------------------------------------------------------------------------

def test_portal_down_during_1100_changes_then_everything_arrives_in_order_once(
        factory, settings, clock, portal, portal_client):  # noqa: ANN001
    dossiers = 100
    portal.post("/_control/faults", json={"fail_rate": 1.0})
    codes: list[str] = []
    with transaction(factory) as session:
        for n in range(dossiers):
            codes.append(intake(session, settings, clock.now(), n).code)
    down = DispatchStats()
    for step, (username, action, body) in enumerate(LIFE):
        now = clock.advance(minutes=1)
        with transaction(factory) as session:
            for code in codes:
                act(session, settings, now, code, username, action, version=step + 1, **body)
        if step in (0, 8):  # the dispatcher keeps trying while the portal is down
            down += dispatch_portal(factory, settings, now, portal_client, rng=random.Random(step))
    rows = portal_rows(factory)
    assert len(rows) == 1100
    assert down.sent == 0 and down.retried == 2 * dossiers and down.dead == 0
    assert all(m.status == "pending" for m in rows)
    assert max(m.attempts for m in rows) == 2 and "503" in rows[0].last_error

    # The portal comes back; its sessions expire half-way, so the adapter logs in again.
    portal.post("/_control/faults", json={"fail_rate": 0.0})
    later = clock.now() + timedelta(days=1)
    first = dispatch_portal(factory, settings, later, portal_client)
    assert first.sent == 200  # a batch; its success after the outage wakes the rest: a second batch
    portal.post("/_control/sessions/expire")
    total = drain(factory, settings, later, portal_client)
    total += first
    assert total.sent == 1100 and total.dead == 0

    state = portal.get("/_control/state").json()
    counts = state["counts"]
    assert counts["sync_applied"] + counts["progress_applied"] == 1100, "each change applied exactly once"
    assert counts.get("duplicates", 0) == 0
    assert counts["logins"] == 2
    assert all(m.status == "sent" for m in portal_rows(factory))
    with factory() as session:
        events = session.exec(select(DossierEvent, Dossier.code).join(Dossier, Dossier.id == DossierEvent.dossier_id)
                              .order_by(DossierEvent.dossier_id, DossierEvent.seq)).all()
        synced = session.exec(select(Dossier.portal_synced_at)).all()
    assert all(at == later for at in synced)
    ours: dict[str, list[DossierEvent]] = {}
    for event, code in events:
        ours.setdefault(code, []).append(event)
    for code in codes:
        record = state["dossiers"][code]
        statuses = [PORTAL_STATUS[e.to_status] for e in ours[code]]
        assert len(statuses) == 11
        assert [h["TrangThaiHoSo"] for h in record["LichSuTrangThai"]] == collapse(statuses) == EXPECTED_STATUSES
        # Every history row arrived once, in our order.
        assert [(r["ThoiDiemXuLy"], r["TrangThai"]) for r in record["QuaTrinhXuLy"]] == [
            (portal_time(e.at), PORTAL_STATUS[e.to_status]) for e in ours[code]]
        assert record["TrangThaiHoSo"] == 10 and record["NgayTra"]


def test_refused_message_goes_dead_holds_its_dossier_back_and_a_requeue_resyncs_it(
        factory, settings, clock, portal, portal_client):  # noqa: ANN001
    from app.portal.resync import requeue_portal

    with transaction(factory) as session:
        codes = [intake(session, settings, clock.now(), n).code for n in range(4)]
    with transaction(factory) as session:
        for code in codes:
            act(session, settings, clock.advance(minutes=1), code, "motcua", "forward", assignee="chuyenvien")
        # A payload the portal refuses: the procedure code is missing.
        bad = session.exec(select(OutboxMessage).where(OutboxMessage.topic == "portal", OutboxMessage.kind == "sync_new")
                           .order_by(OutboxMessage.id)).first()
        bad.payload = {**bad.payload, "data": [{k: v for k, v in bad.payload["data"][0].items() if k != "MaTTHC"}]}
        session.add(bad)
    stats = drain(factory, settings, clock.now(), portal_client)
    # The bad create is dead; the same dossier's progress waits behind it (never sent out of order,
    # never dead); the three other dossiers go through untouched.
    assert stats.dead == 1 and stats.sent == 6
    rows = {m.id: m for m in portal_rows(factory)}
    dead = rows[bad.id]
    assert dead.status == "dead" and "MaTTHC" in dead.last_error and "PermanentError" not in dead.last_error
    assert "Nguyễn" not in dead.last_error
    waiting = [m for m in rows.values() if m.dossier_id == dead.dossier_id and m.id != dead.id]
    assert [(m.kind, m.status, m.attempts) for m in waiting] == [("progress", "pending", 0)]
    state = portal.get("/_control/state").json()
    assert sorted(state["dossiers"]) == sorted(codes[1:])
    # Later dispatches still leave it waiting.
    assert drain(factory, settings, clock.advance(hours=3), portal_client).processed == 0

    # The admin requeues: the dead message and the one waiting behind it become one full re-sync,
    # built from the dossier as it is now (the procedure code is there again).
    with transaction(factory) as session:
        resync = requeue_portal(session, bad.id, now=clock.now())
        assert resync.kind == "resync" and resync.status == "pending"
    assert drain(factory, settings, clock.now(), portal_client).sent == 1
    rows = {m.id: m for m in portal_rows(factory)}
    assert rows[bad.id].status == "superseded" and waiting[0].id in rows and rows[waiting[0].id].status == "superseded"
    record = held(portal, codes[0])
    assert record["TrangThaiHoSo"] == 4 and record["MaTTHC"] == PROCEDURE
    assert [r["TrangThai"] for r in record["QuaTrinhXuLy"]] == [2, 4]


def test_portal_that_lost_a_dossier_gets_its_whole_chain_again(factory, settings, clock, portal, portal_client):  # noqa: ANN001
    with transaction(factory) as session:
        code = intake(session, settings, clock.now(), 7).code
    assert drain(factory, settings, clock.now(), portal_client).sent == 1
    portal.post("/_control/reset")  # the portal loses everything it held
    with transaction(factory) as session:
        act(session, settings, clock.advance(minutes=1), code, "motcua", "forward", assignee="chuyenvien")
        act(session, settings, clock.advance(minutes=1), code, "chuyenvien", "request_supplement", items=["Ảnh"])
        act(session, settings, clock.advance(minutes=1), code, "motcua", "supplement_received")
    stats = drain(factory, settings, clock.now(), portal_client)
    # The forward is refused (the portal does not hold the dossier): it and the two rows behind it
    # are superseded by one re-sync carrying the full record and every history row.
    assert stats.dead == 0 and stats.sent == 2
    assert [(m.kind, m.status) for m in portal_rows(factory)] == [
        ("sync_new", "sent"), ("progress", "superseded"), ("progress", "superseded"), ("sync_update", "superseded"),
        ("resync", "sent")]
    record = held(portal, code)
    assert record["TrangThaiHoSo"] == 4
    with factory() as session:
        events = session.exec(select(DossierEvent).join(Dossier).where(Dossier.code == code)
                              .order_by(DossierEvent.seq)).all()
    assert [r["MaQuaTrinh"] for r in record["QuaTrinhXuLy"]] == [f"{code}.{e.seq}" for e in events]
    assert [r["TrangThai"] for r in record["QuaTrinhXuLy"]] == [2, 4, 5, 4]


# --- end to end: from the portal, through the desk, back to the portal --------------------------

def test_online_submission_round_trip(client, login, app, clock, portal, portal_client):  # noqa: ANN001
    from app.portal.inbound import pull_submissions
    from tests.workflows.test_scenarios import act as api_act, ready

    procedure = client.get(f"/api/v1/procedures/{PROCEDURE}", headers=login("motcua")).json()
    submitted = portal.post("/submissions", json={
        "MaTTHC": PROCEDURE, "DonViXuLy": "000.00.17.H26", "ChuHoSo": "Trần Thị Bình", "LoaiDoiTuong": 1,
        "SoGiayToChuHoSo": "001199000111", "SoDienThoai": "0987654321", "TrichYeuHoSo": "Chỉnh sửa văn bằng",
        "NgayNopHoSo": "20261122210000", "MucDo": "mot_phan", "HinhThucNhanKetQua": 0,
        "GiayTo": [{"TenGiayTo": d["name"], "SoLuong": 1} for d in procedure["required_documents"]],
    }).json()
    factory, settings = app.state.sessionmaker, app.state.settings
    assert pull_submissions(factory, settings, clock.now(), portal_client) == 1
    assert pull_submissions(factory, settings, clock.now(), portal_client) == 0  # cursor moved on

    desk, specialist, head, director = (login(u) for u in ("motcua", "chuyenvien", "truongphong", "giamdoc"))
    [summary] = client.get("/api/v1/dossiers?status=submitted", headers=desk).json()["items"]
    dossier = client.get(f"/api/v1/dossiers/{summary['code']}", headers=desk).json()
    assert dossier["channel"] == "online" and dossier["online_level"] == "partial"
    assert datetime.fromisoformat(dossier["submitted_at"]).astimezone(VN) == datetime(2026, 11, 22, 21, 0, tzinfo=VN)
    assert dispatch_portal(factory, settings, clock.now(), portal_client).sent == 1

    clock.advance(minutes=10)
    dossier = api_act(client, desk, dossier, "accept")
    clock.advance(minutes=10)
    dossier = api_act(client, desk, dossier, "forward", assignee="chuyenvien")
    for who in (specialist, head):
        clock.advance(hours=1)
        dossier = api_act(client, who, dossier, "forward")
    clock.advance(hours=1)
    dossier = ready(client, director, login("motcua"), dossier, result_reference="99/QĐ-SGDĐT")
    clock.advance(hours=1)
    dossier = api_act(client, desk, dossier, "return_result", method="desk", receiver_name="Trần Thị Bình")
    assert dispatch_portal(factory, settings, clock.now(), portal_client).sent == 7

    record = portal_client.lookup(dossier["code"])
    assert record is not None
    assert [h["TrangThaiHoSo"] for h in record["LichSuTrangThai"]] == [1, 2, 4, 9, 10]
    assert record["KenhThucHien"] == 2 and record["NgayTra"] and record["NgayTiepNhan"]
    assert len(record["QuaTrinhXuLy"]) == 8
    assert submitted["portal_id"]


def test_after_an_outage_the_first_success_wakes_every_message_waiting_in_backoff(
        factory, settings, clock, portal, portal_client):  # noqa: ANN001
    with transaction(factory) as session:
        codes = [intake(session, settings, clock.now(), n).code for n in range(2)]
    portal.post("/_control/faults", json={"fail_rate": 1.0})
    assert dispatch_portal(factory, settings, clock.now(), portal_client).retried == 2  # the portal is down
    with transaction(factory) as session:  # one of them waits in backoff for another 25 minutes
        late = session.exec(select(OutboxMessage).where(OutboxMessage.topic == "portal")
                            .order_by(OutboxMessage.id.desc())).first()
        late.next_attempt_at = clock.now() + timedelta(minutes=25)
        session.add(late)
    portal.post("/_control/faults", json={"fail_rate": 0.0})
    stats = dispatch_portal(factory, settings, clock.advance(minutes=2), portal_client)
    assert stats.sent == 2 and stats.retried == 0
    assert sorted(portal.get("/_control/state").json()["dossiers"]) == sorted(codes)
    # A round where every try fails marks the portal down again (a round with a success never does).
    with transaction(factory) as session:
        act(session, settings, clock.now(), codes[0], "motcua", "forward", assignee="chuyenvien")
    portal.post("/_control/faults", json={"fail_rate": 1.0})
    dispatch_portal(factory, settings, clock.now(), portal_client)
    with factory() as session:
        from app.models import SystemState
        from app.portal.sync import DOWN_KEY

        assert session.get(SystemState, DOWN_KEY) is not None
