"""Authorization matrix: every route of the running app × anonymous × every role × own/other agency.

Routes are discovered from `app.routes` at run time, so a route added by anyone is checked too, and
a route missing from `MATRIX` fails `test_every_route_is_in_the_matrix` with the line to add.

Expectations:
* anonymous → 401 on every route that is not public;
* a role outside the route's roles → 403 (`not_permitted`);
* a role inside them → anything but 401/403 and never 5xx (the probes are built so that nothing
  beyond the role gate refuses: an inert dossier, an already-delivered shipment, a bad date...);
* staff of another agency asking for this agency's objects (dossier codes, procedure codes in
  changes, apology / alert / shipment / outbox / calendar-override ids) → 404, never 200, never 403.

The role part runs on SQLite only (it is the large one); the agency-scoping parts on both databases.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from app.db import make_sessionmaker, transaction
from app.feedback.models import Feedback, FeedbackAlert
from app.models import Alert, Dossier, DossierForecast, OutboxMessage, User
from tests.documents.samples import MINIMAL_PDF

# --- who is who ------------------------------------------------------------------------------------

ROLES = ("admin", "desk", "specialist", "leader", "reporter", "postal")
OWN_USERS = {"admin": "admin", "desk": "motcua", "specialist": "chuyenvien", "leader": "truongphong",
             "reporter": "baocao", "postal": "buudien"}
OTHER_USERS = {"admin": "other_admin", "desk": "other_desk", "specialist": "other_specialist",
               "leader": "other_leader", "reporter": "other_reporter", "postal": "other_postal"}

PUBLIC = None  # no authentication at all
ANY = frozenset(ROLES)
STAFF = frozenset({"desk", "specialist", "leader", "reporter", "postal"})  # app.auth.deps.Staff
ADMIN = frozenset({"admin"})
DESK = frozenset({"desk"})
INTAKE = frozenset({"desk", "postal"})
LEADER = frozenset({"leader"})
REPORTS = frozenset({"reporter", "leader"})
DRAFTERS = frozenset({"specialist", "leader"})
POSTAL_OR_DESK = frozenset({"postal", "desk"})
FILE_STAFF = frozenset({"desk", "specialist", "leader"})  # dossier files: personal documents
OFFICE = frozenset({"desk", "leader"})  # an agency's office accepts or returns an inter-agency hand-over
IMPORTERS = ADMIN  # history import: administrators only (issue 11, point 16)
FEEDBACK_STAFF = frozenset({"desk", "specialist", "leader"})  # citizens' feedback: the agency's handlers
DISPATCHERS = frozenset({"desk", "leader"})  # who hands a feedback to an officer


@dataclass(frozen=True)
class Rule:
    """Who may call a route, which agency-owned object its path names, and how to probe it."""

    roles: frozenset[str] | None
    obj: str | None = None  # dossier | procedure | apology | alert | shipment | outbox | override
    query: str = ""
    json: Any = None
    form: dict[str, str] | None = None
    shared_read: str | None = None  # why another agency may read it (200 instead of 404)
    # A narrower authority inside the role (403 with this code): e.g. only the agency's own leaders
    # (Giám đốc / Phó Giám đốc) sign form 04, not the division head who probes as "leader".
    narrower: str | None = None


# One line per route: "METHOD path" -> Rule. Keep it complete: the first test fails on a new route.
MATRIX: dict[str, Rule] = {
    # operations, documentation, static pages (public)
    "GET /": Rule(PUBLIC),  # landing page: links only
    "GET /health": Rule(PUBLIC),
    "GET /ready": Rule(PUBLIC),
    # Prometheus metrics: the scraper's token (or an allowed network), no staff role at all
    "GET /metrics": Rule(frozenset()),
    "GET /openapi.json": Rule(PUBLIC),
    "GET /docs": Rule(PUBLIC),
    "GET /docs/oauth2-redirect": Rule(PUBLIC),
    "GET /redoc": Rule(PUBLIC),
    "POST /api/v1/auth/token": Rule(PUBLIC, form={"username": "motcua", "password": "demo1234"}),
    "POST /api/v1/public/lookup": Rule(PUBLIC, json={"code": "000.00.17.H26-000000-0000", "secret": "AAAA-AAAA"}),
    "GET /tra-cuu": Rule(PUBLIC),
    "POST /tra-cuu": Rule(PUBLIC, form={"code": "000.00.17.H26-000000-0000", "secret": "AAAA-AAAA"}),
    "GET /tra-cuu/static/{name}": Rule(PUBLIC),
    # signed documents: verification and the citizen's short-lived download link (an HMAC token)
    "POST /api/v1/public/verify": Rule(PUBLIC, form={}),
    "GET /xac-thuc": Rule(PUBLIC),
    "POST /xac-thuc": Rule(PUBLIC, form={}),
    "GET /api/v1/public/results/{token}": Rule(PUBLIC),
    # payments (issue 15): the platform's callback is public but signed (the probe's unsigned body: 400);
    # the citizen's payment pages take the lookup's short-lived token or the transaction reference
    "POST /api/v1/payments/callback": Rule(PUBLIC, json={}),
    "POST /tra-cuu/thanh-toan": Rule(PUBLIC, form={"token": "1.1.AAAAAAAAAAAAAAAAAAAAAA"}),
    "GET /tra-cuu/thanh-toan/ket-qua": Rule(PUBLIC, query="ref=MC0000"),
    "GET /quy-trinh": Rule(PUBLIC),
    "MOUNT /static-offline-docs": Rule(PUBLIC),  # Swagger UI / ReDoc assets served locally (offline machines)  # the printable transition table: documentation, no data
    "GET /bang-dieu-khien": Rule(PUBLIC),  # the shell logs in from the browser; it holds no data
    "GET /bang-dieu-khien/static/{name}": Rule(PUBLIC),
    # every authenticated user
    "GET /api/v1/auth/me": Rule(ANY),
    # a wrong current password: 422, nothing changes (a change would end the probes' tokens)
    "POST /api/v1/auth/password": Rule(ANY, json={"current_password": "not-the-password-1",
                                                  "new_password": "another-password-2"}),
    "GET /api/v1/workflow/transitions": Rule(ANY),
    "GET /api/v1/procedures": Rule(ANY),
    "GET /api/v1/procedures/{code}": Rule(ANY, obj="procedure",
                                          shared_read="the national catalogue of procedures is public information"),
    # catalogue administration
    "GET /api/v1/procedures/export": Rule(ADMIN),
    "POST /api/v1/procedures/import": Rule(ADMIN, json=[]),
    "POST /api/v1/procedures": Rule(ADMIN, json={}),
    "PATCH /api/v1/procedures/{code}": Rule(ADMIN, obj="procedure", json={}),
    "POST /api/v1/procedures/{code}/deactivate": Rule(ADMIN, obj="procedure"),
    "POST /api/v1/procedures/{code}/activate": Rule(ADMIN, obj="procedure"),
    # calendar
    "GET /api/v1/calendar/overrides": Rule(ANY),
    "POST /api/v1/calendar/overrides": Rule(ADMIN, json={}),
    "DELETE /api/v1/calendar/overrides/{override_id}": Rule(ADMIN, obj="override"),
    "GET /api/v1/calendar/days": Rule(ANY, query="start=2026-11-01&end=2026-11-30"),  # the admin sees what they edit
    # dossiers
    "POST /api/v1/dossiers": Rule(INTAKE, json={}),
    "GET /api/v1/dossiers": Rule(STAFF),
    "GET /api/v1/dossiers/queue-counts": Rule(STAFF),  # the caller's own work lists, scoped to their agency
    # the agency's directory (names, titles, divisions, roles; no contact data), for choosing an assignee
    "GET /api/v1/users": Rule(ANY),
    "GET /api/v1/dossiers/{code}": Rule(STAFF, obj="dossier"),
    "POST /api/v1/dossiers/{code}/actions/{action}": Rule(STAFF, obj="dossier", json="version"),
    "GET /api/v1/dossiers/{code}/events": Rule(STAFF, obj="dossier"),
    "GET /api/v1/dossiers/{code}/deadline": Rule(STAFF, obj="dossier"),
    # dossier files (issue 13): desk, specialists and leaders; the probe sends no file (409 on the
    # refused dossier, 404 for another agency)
    "POST /api/v1/dossiers/{code}/files": Rule(FILE_STAFF, obj="dossier", form={"component": "0", "kind": "copy"}),
    "GET /api/v1/dossiers/{code}/files": Rule(FILE_STAFF, obj="dossier"),
    "GET /api/v1/dossiers/{code}/files/{file_id}": Rule(FILE_STAFF, obj="dossier"),
    "GET /api/v1/applicants/{id_number}/documents": Rule(DESK),
    # printable forms
    "GET /api/v1/dossiers/{code}/forms": Rule(STAFF, obj="dossier"),
    "POST /api/v1/dossiers/{code}/forms/receipt": Rule(STAFF, obj="dossier", json={"lookup_secret": "ABCD-EFGH"}),
    "GET /api/v1/dossiers/{code}/forms/{form}": Rule(STAFF, obj="dossier"),
    "GET /api/v1/forms/tracking-book": Rule(STAFF, query="from=2026-11-01&to=2026-11-30"),
    "POST /api/v1/dossiers/{code}/forms/receipt.pdf": Rule(STAFF, obj="dossier",
                                                           json={"lookup_secret": "ABCD-EFGH"}),
    "GET /api/v1/dossiers/{code}/forms/{form}.pdf": Rule(STAFF, obj="dossier"),
    "GET /api/v1/forms/tracking-book.pdf": Rule(STAFF, query="from=2026-11-01&to=2026-11-30"),
    "GET /api/v1/dossiers/{code}/signed-documents": Rule(STAFF, obj="dossier"),
    "GET /api/v1/dossiers/{code}/signed-documents/{document_id}": Rule(STAFF, obj="dossier"),
    # postal (BCCI)
    "GET /api/v1/dossiers/{code}/shipments": Rule(STAFF, obj="dossier"),
    "POST /api/v1/dossiers/{code}/shipments": Rule(DESK, obj="dossier", json={"tracking_number": "EX123456789VN"}),
    "GET /api/v1/shipments": Rule(STAFF),
    "PATCH /api/v1/shipments/{shipment_id}": Rule(POSTAL_OR_DESK, obj="shipment", json={"status": "delivered"}),
    # fees and payments: the desk asks at intake and records cash or transfer with a receipt
    "GET /api/v1/dossiers/{code}/payments": Rule(STAFF, obj="dossier"),
    "POST /api/v1/dossiers/{code}/payments": Rule(DESK, obj="dossier", json={}),
    "POST /api/v1/dossiers/{code}/payments/{payment_id}/receipt": Rule(DESK, obj="dossier", json={}),
    # outbox administration
    "GET /api/v1/outbox": Rule(ADMIN),
    "POST /api/v1/outbox/{message_id}/requeue": Rule(ADMIN, obj="outbox"),
    # national-portal reconciliation
    "GET /api/v1/portal/drift": Rule(ADMIN, query="state=all"),
    # online submissions that could not be received (answered to the portal): the desk, the admin
    "GET /api/v1/portal/submissions/refused": Rule(frozenset({"desk", "admin"})),
    # reports
    "GET /api/v1/reports/periodic": Rule(REPORTS, query="period=2026"),
    "GET /api/v1/reports/periodic.xlsx": Rule(REPORTS, query="period=2026-Q4"),
    "GET /api/v1/reports/periodic.csv": Rule(REPORTS, query="period=2026-11"),
    "GET /api/v1/reports/on-time": Rule(REPORTS, query="period=2026"),
    "GET /api/v1/reports/monthly-on-time": Rule(REPORTS),
    "GET /api/v1/reports/indicators": Rule(REPORTS, query="period=2026"),
    "POST /api/v1/imports": Rule(IMPORTERS, query="dry_run=true", json=[]),
    # deadline alerts and apologies (form 04)
    "GET /api/v1/alerts": Rule(STAFF),
    "POST /api/v1/alerts/{alert_id}/ack": Rule(STAFF, obj="alert"),
    "GET /api/v1/apologies": Rule(STAFF),
    "GET /api/v1/dossiers/{code}/apologies": Rule(STAFF, obj="dossier"),
    "POST /api/v1/dossiers/{code}/apologies": Rule(DRAFTERS, obj="dossier"),
    "PATCH /api/v1/apologies/{apology_id}": Rule(DRAFTERS, obj="apology", json={"reason": "Cần xác minh thêm"}),
    "POST /api/v1/apologies/{apology_id}/issue": Rule(LEADER, obj="apology", json={"new_due_at": "2000-01-03T08:00:00"},
                                                      narrower="agency_leader_required"),
    # inter-agency (liên thông): hand-overs, each agency's part, lateness and province reports (issue 14)
    "GET /api/v1/dossiers/{code}/handovers": Rule(STAFF, obj="dossier"),
    "POST /api/v1/dossiers/{code}/handovers/{handover_id}/accept": Rule(OFFICE, obj="dossier", json="version"),
    "POST /api/v1/dossiers/{code}/handovers/{handover_id}/return": Rule(OFFICE, obj="dossier", json="version"),
    "GET /api/v1/dossiers/{code}/agencies": Rule(STAFF, obj="dossier"),
    "GET /api/v1/dossiers/{code}/opinions": Rule(STAFF, obj="dossier"),
    "POST /api/v1/dossiers/{code}/opinions": Rule(DRAFTERS, obj="dossier",
                                                  json={"agencies": ["000.00.10.H26"], "question": "Ý kiến?",
                                                        "due_hours": 8}),
    "POST /api/v1/dossiers/{code}/opinions/{opinion_id}/answer": Rule(frozenset({"desk", "specialist", "leader"}),
                                                                      obj="dossier",
                                                                      json={"agree": True, "answer": "Đồng ý"}),
    "GET /api/v1/reports/interagency": Rule(REPORTS, query="period=2026"),
    # the province report: the centre's and the People's Committee's reporters and leaders only
    "GET /api/v1/reports/province": Rule(REPORTS, query="period=2026", narrower="province_scope_required"),
    "GET /api/v1/reports/province.csv": Rule(REPORTS, query="period=2026", narrower="province_scope_required"),
    "GET /api/v1/reports/province.xlsx": Rule(REPORTS, query="period=2026", narrower="province_scope_required"),
    # citizens' feedback and satisfaction (issue 15): the agency's queue, and the public side (a lookup's
    # token or the signed rating link; the probes' tokens are invalid: 404), the satisfaction report
    "GET /api/v1/feedback": Rule(FEEDBACK_STAFF),
    "GET /api/v1/feedback/alerts": Rule(FEEDBACK_STAFF),
    "POST /api/v1/feedback/alerts/{feedback_alert_id}/ack": Rule(FEEDBACK_STAFF, obj="feedback_alert"),
    "GET /api/v1/feedback/{feedback_id}": Rule(FEEDBACK_STAFF, obj="feedback"),
    "POST /api/v1/feedback/{feedback_id}/assign": Rule(DISPATCHERS, obj="feedback", json={"assignee": "chuyenvien"}),
    # once assigned, only the assignee or a leader answers (403 with this code for the desk)
    "POST /api/v1/feedback/{feedback_id}/answer": Rule(FEEDBACK_STAFF, obj="feedback",
                                                       json={"answer": "Cơ quan đã tiếp thu."},
                                                       narrower="feedback_not_assignee"),
    "POST /api/v1/public/feedback": Rule(PUBLIC, json={"full_name": "Trần Bình", "phone": "0987654321",
                                                       "procedure_code": "2.001914",
                                                       "content": "Phản ánh về thủ tục hành chính."}),
    "POST /api/v1/public/feedback/dossier": Rule(PUBLIC, json={"token": "t.1.1.AAAAAAAAAAAAAAAAAAAAAA",
                                                               "content": "Phản ánh về hồ sơ của tôi."}),
    "POST /api/v1/public/ratings": Rule(PUBLIC, json={"token": "r.1.1.AAAAAAAAAAAAAAAAAAAAAA",
                                                      "reception": "satisfied", "handling_time": "satisfied",
                                                      "staff_attitude": "satisfied"}),
    "GET /tra-cuu/gop-y": Rule(PUBLIC),
    "POST /tra-cuu/gop-y": Rule(PUBLIC, form={}),
    "POST /tra-cuu/phan-anh": Rule(PUBLIC, form={}),
    "GET /tra-cuu/danh-gia/{token}": Rule(PUBLIC),
    "POST /tra-cuu/danh-gia/{token}": Rule(PUBLIC, form={}),
    "GET /api/v1/reports/satisfaction": Rule(REPORTS, query="period=2026"),
    "GET /api/v1/reports/satisfaction.csv": Rule(REPORTS, query="period=2026"),
    "GET /api/v1/reports/satisfaction.xlsx": Rule(REPORTS, query="period=2026"),
    # analysis of the recorded history (issue 17): what-if replay of a time limit, the event log
    "POST /api/v1/analysis/what-if": Rule(REPORTS, json={"procedure_code": "2.001914", "period": "2026",
                                                         "time_limit": {"value": 3, "unit": "working_days"}}),
    "POST /api/v1/analysis/what-if.xlsx": Rule(REPORTS, json={"procedure_code": "2.001914", "period": "2026",
                                                              "time_limit": {"value": 3, "unit": "working_days"}}),
    "GET /api/v1/analysis/event-log.xes": Rule(REPORTS, query="period=2026-11"),
    "GET /api/v1/dossiers/{code}/late-risk": Rule(STAFF, obj="dossier"),
    "GET /api/v1/analysis/event-log.ocel.json": Rule(REPORTS, query="period=2026-11"),
    "GET /api/v1/analysis/at-risk": Rule(REPORTS),
}

# Cells where the code differs from the rule above: each is a finding for the lead, checked as a
# strict xfail (the test turns red the day the route is fixed, so this table gets updated).
KNOWN_DEVIATIONS: dict[tuple[str, str], str] = {}

# Non-path parameters of the probes, by name.
PARAM_DEFAULTS = {"action": "forward", "form": "receipt", "file_id": "1", "id_number": "001099012345",
                  "handover_id": "1", "opinion_id": "1", "payment_id": "1", "token": "1.1.AAAAAAAAAAAAAAAAAAAAAA",
                  "document_id": "1"}
STATIC_NAMES = {"/tra-cuu/static/{name}": "citizen.css", "/bang-dieu-khien/static/{name}": "dashboard.css"}
OBJECT_PARAMS = {"dossier": "code", "procedure": "code", "apology": "apology_id", "alert": "alert_id",
                 "shipment": "shipment_id", "outbox": "message_id", "override": "override_id",
                 "feedback": "feedback_id", "feedback_alert": "feedback_alert_id"}


# --- routes of the running app ---------------------------------------------------------------------

def app_routes(app) -> Iterator[tuple[str, str, bool]]:  # noqa: ANN001
    """(method, path, is_mount) of every route, flattened through included routers."""
    try:
        from fastapi.routing import iter_route_contexts
        contexts = list(iter_route_contexts(app.routes))
    except ImportError:  # older FastAPI: app.routes is already flat
        contexts = list(app.routes)
    for route in contexts:
        path = getattr(route, "path", None)
        if path is None:
            continue
        methods = getattr(route, "methods", None)
        if not methods:  # a Mount (static files, a sub-application)
            yield "MOUNT", path, True
            continue
        for method in sorted(set(methods) - {"HEAD"}):
            yield method, path, False


def route_keys(app) -> list[str]:  # noqa: ANN001
    return sorted({f"{method} {path}" for method, path, _ in app_routes(app)})


def test_every_route_is_in_the_matrix(app) -> None:  # noqa: ANN001
    keys = route_keys(app)
    missing = [key for key in keys if key not in MATRIX]
    assert not missing, "\n".join(
        f"route {key} not in the matrix: add its expected roles to MATRIX in {__file__}" for key in missing)
    unused = [key for key in MATRIX if key not in keys]
    assert not unused, f"MATRIX lists routes the app no longer has (remove them): {unused}"
    for key, rule in MATRIX.items():
        if rule.obj is not None:
            assert "{" + OBJECT_PARAMS[rule.obj] + "}" in key, f"{key}: obj={rule.obj} but no such path parameter"
        for name in re.findall(r"{(\w+)}", key):
            known = name in PARAM_DEFAULTS or (rule.obj and name == OBJECT_PARAMS[rule.obj]) or name == "name"
            assert known, f"{key}: no value for path parameter {{{name}}}: extend the probes of {__file__}"


# --- the world: objects of both agencies -------------------------------------------------------------

PROCEDURE = "2.001914"  # the demo procedure used for intake
SPARE_PROCEDURE = "1.006445"  # the one the catalogue probes may deactivate


@dataclass
class World:
    client: TestClient
    headers: Callable[[str], dict[str, str]]
    dossiers: dict[str, dict] = field(default_factory=dict)  # state -> dossier JSON (agency A)
    ids: dict[str, int] = field(default_factory=dict)  # apology, alert, shipment, outbox, override
    other: dict[str, Any] = field(default_factory=dict)  # agency B's own objects


def _documents(client: TestClient, headers: dict[str, str], code: str) -> list[dict]:
    procedure = client.get(f"/api/v1/procedures/{code}", headers=headers).json()
    return [{"name": d["name"], "kind": d["kind"], "count": d["count"]} for d in procedure["required_documents"]]


def _intake(client: TestClient, headers: dict[str, str], procedure: str, **overrides: Any) -> dict:
    body = {"procedure_code": procedure, "channel": "direct",
            "applicant": {"full_name": "Nguyễn Văn An", "id_number": "001099012345", "phone": "0912345678"},
            "documents": _documents(client, headers, procedure), "return_method": "desk"}
    body.update(overrides)
    response = client.post("/api/v1/dossiers", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def _act(client: TestClient, headers: dict[str, str], dossier: dict, action: str, **body: Any) -> dict:
    response = client.post(f"/api/v1/dossiers/{dossier['code']}/actions/{action}",
                           json={"version": dossier["version"], **body}, headers=headers)
    assert response.status_code == 200, (action, response.text)
    return response.json()


def build_world(client: TestClient, login: Callable[[str], dict[str, str]], engine, settings, clock) -> World:  # noqa: ANN001
    from app.auth.service import create_user

    factory = make_sessionmaker(engine)
    with transaction(factory) as s:
        create_user(s, username="other_postal", password="demo1234", full_name="Bưu điện tỉnh khác",
                    agency_code="000.00.18.H27", roles=["postal"], settings=settings, now=clock.now())
    world = World(client=client, headers=login)
    desk, specialist, leader, admin = login("motcua"), login("chuyenvien"), login("truongphong"), login("admin")
    d = world.dossiers
    d["received"] = _intake(client, desk, PROCEDURE)
    d["processing"] = _act(client, desk, _intake(client, desk, PROCEDURE), "forward", assignee="chuyenvien")
    supplement = _act(client, desk, _intake(client, desk, PROCEDURE), "forward", assignee="chuyenvien")
    d["awaiting_supplement"] = _act(client, specialist, supplement, "request_supplement", items=["Bản sao"])
    resolved = _act(client, desk, _intake(client, desk, PROCEDURE), "forward", assignee="chuyenvien")
    resolved = _act(client, specialist, resolved, "forward")
    resolved = _act(client, leader, resolved, "forward")
    resolved = _act(client, login("giamdoc"), resolved, "forward", result_reference="1/QĐ")
    d["resolved"] = _act(client, desk, resolved, "resolve")
    d["returned"] = _act(client, desk, d["resolved"], "return_result", method="desk", receiver_name="Nguyễn Văn An")
    d["resolved"] = client.get(f"/api/v1/dossiers/{d['resolved']['code']}", headers=desk).json()
    d["refused"] = _intake(client, desk, PROCEDURE, decision="refuse", reason="Không thuộc thẩm quyền")
    d["postal"] = _intake(client, desk, PROCEDURE, channel="postal",
                          postal={"tracking_number": "EB000000001VN"}, return_method="postal")

    uploaded = client.post(f"/api/v1/dossiers/{d['processing']['code']}/files", headers=desk,
                           data={"component": "0", "kind": "original_scan"},
                           files={"file": ("don.pdf", MINIMAL_PDF, "application/pdf")})
    assert uploaded.status_code == 201, uploaded.text
    apology = client.post(f"/api/v1/dossiers/{d['processing']['code']}/apologies", headers=specialist)
    assert apology.status_code == 201, apology.text
    world.ids["apology"] = apology.json()["id"]
    shipments = client.get(f"/api/v1/dossiers/{d['postal']['code']}/shipments", headers=desk).json()
    world.ids["shipment"] = shipments[0]["id"]
    override = client.post("/api/v1/calendar/overrides", headers=admin,
                           json={"day": "2027-01-15", "is_working": False, "reason": "Nghỉ bù của cơ quan"})
    assert override.status_code == 201, override.text
    world.ids["override"] = override.json()["override"]["id"]
    with transaction(factory) as s:
        dossier = s.exec(select(Dossier).where(Dossier.code == d["processing"]["code"])).one()
        recipient = s.exec(select(User).where(User.username == "chuyenvien")).one()
        alert = Alert(dossier_id=dossier.id, kind="due_soon", deadline_at=dossier.due_at, recipient_id=recipient.id,
                      message="Hồ sơ sắp đến hạn.", created_at=clock.now())
        s.add(alert)
        s.flush()
        world.ids["alert"] = alert.id
        message = s.exec(select(OutboxMessage).where(OutboxMessage.dossier_id == dossier.id)).first()
        assert message is not None, "intake writes outbox rows"
        world.ids["outbox"] = message.id
        # What the scan's late-risk pass stores for it (app/foresight/risk_scan.py): it is at risk.
        s.add(DossierForecast(dossier_id=dossier.id, step=dossier.current_step, due_at=dossier.due_at,
                              probability=0.9, expected_ready_at=dossier.due_at, cause_step=1,
                              cause_name="Lãnh đạo phòng duyệt", basis="history", computed_at=clock.now()))

    # A citizen's feedback to agency A and an alert on it for its specialist.
    sent = client.post("/api/v1/public/feedback", json=MATRIX["POST /api/v1/public/feedback"].json)
    assert sent.status_code == 201, sent.text
    with transaction(factory) as s:
        feedback = s.exec(select(Feedback).where(Feedback.reference == sent.json()["reference"])).one()
        recipient = s.exec(select(User).where(User.username == "chuyenvien")).one()
        feedback_alert = FeedbackAlert(feedback_id=feedback.id, kind="feedback_due_soon", deadline_at=feedback.due_at,
                                       recipient_id=recipient.id, message="Phản ánh sắp đến hạn.",
                                       created_at=clock.now())
        s.add(feedback_alert)
        s.flush()
        world.ids["feedback"], world.ids["feedback_alert"] = feedback.id, feedback_alert.id

    # Agency B: a procedure of its own, a dossier, an override: the lists of A must not show them.
    other_admin, other_desk = login("other_admin"), login("other_desk")
    template = client.get(f"/api/v1/procedures/{PROCEDURE}", headers=other_admin).json()
    body = {k: v for k, v in template.items() if k not in ("online_level_legacy", "agency_name", "agency_code",
                                                            "division")}
    body["code"] = "9.999001"
    created = client.post("/api/v1/procedures", json=body, headers=other_admin)
    assert created.status_code == 201, created.text
    world.other["dossier"] = _intake(client, other_desk, "9.999001")
    other_override = client.post("/api/v1/calendar/overrides", headers=other_admin,
                                 json={"day": "2027-01-18", "is_working": False, "reason": "Nghỉ bù tỉnh khác"})
    assert other_override.status_code == 201, other_override.text
    return world


@pytest.fixture
def world(client, login, engine, settings, clock) -> World:  # noqa: ANN001
    return build_world(client, login, engine, settings, clock)


# --- probes ------------------------------------------------------------------------------------------

def _value(world: World, rule: Rule, name: str, path: str, *, state: str) -> str:
    if rule.obj is not None and name == OBJECT_PARAMS[rule.obj]:
        if rule.obj == "dossier":
            return world.dossiers[state]["code"]
        if rule.obj == "procedure":
            return SPARE_PROCEDURE
        return str(world.ids[rule.obj])
    if name == "name":
        return STATIC_NAMES[path]
    return PARAM_DEFAULTS[name]


def request(world: World, key: str, headers: dict[str, str] | None, *, state: str = "refused"):  # noqa: ANN201
    """Send the probe of route `key`. Own-agency probes use the refused dossier: inert, every action
    on it is an illegal transition (409), so nothing changes between roles."""
    method, path = key.split(" ", 1)
    rule = MATRIX[key]
    url = re.sub(r"{(\w+)}", lambda m: _value(world, rule, m.group(1), path, state=state), path)
    if rule.query:
        url += "?" + rule.query
    kwargs: dict[str, Any] = {"headers": headers or {}}
    if rule.json == "version":
        kwargs["json"] = {"version": world.dossiers[state]["version"]}
    elif rule.json is not None:
        kwargs["json"] = rule.json
    if rule.form is not None:
        kwargs["data"] = rule.form
    return world.client.request(method, url, **kwargs)


def _describe(key: str, who: str, response) -> str:  # noqa: ANN001
    body = response.text[:300].replace("\n", " ")
    return f"{key} as {who}: {response.status_code} {body}"


def _check(problems: list[str], key: str, who: str, ok: bool, response) -> None:  # noqa: ANN001
    deviation = KNOWN_DEVIATIONS.get((key, who))
    if deviation is not None:
        if ok:
            problems.append(f"{key} as {who}: fixed ({response.status_code}); remove it from KNOWN_DEVIATIONS")
        return
    if not ok:
        problems.append(_describe(key, who, response))


def _error_code(response) -> str | None:  # noqa: ANN001
    try:
        return response.json().get("code")
    except ValueError:
        return None


# --- the checks --------------------------------------------------------------------------------------

ALL_STATES_FOR = ("GET /api/v1/dossiers/{code}", "POST /api/v1/dossiers/{code}/actions/{action}")


def check_anonymous(app, world: World, problems: list[str]) -> None:  # noqa: ANN001
    for key in route_keys(app):
        rule = MATRIX[key]
        response = request(world, key, None)
        if rule.roles is PUBLIC:
            _check(problems, key, "anonymous", response.status_code not in (401, 403) and response.status_code < 500,
                   response)
            continue
        _check(problems, key, "anonymous", response.status_code == 401
               and _error_code(response) == "not_authenticated", response)
        bad = request(world, key, {"Authorization": "Bearer not-a-token"})
        deviation = ("anonymous" if (key, "anonymous") in KNOWN_DEVIATIONS else "bad token")
        _check(problems, key, deviation, bad.status_code == 401, bad)


def check_roles_own_agency(app, world: World, problems: list[str]) -> None:  # noqa: ANN001
    for key in route_keys(app):
        rule = MATRIX[key]
        if rule.roles is PUBLIC:
            continue
        for role in ROLES:
            response = request(world, key, world.headers(OWN_USERS[role]))
            if role in rule.roles:
                ok = (response.status_code not in (401, 403) and response.status_code < 500) or (
                    rule.narrower is not None and response.status_code == 403
                    and _error_code(response) == rule.narrower)
            else:
                ok = response.status_code == 403 and _error_code(response) == "not_permitted"
            _check(problems, key, role, ok, response)


def check_other_agency_objects(app, world: World, problems: list[str]) -> None:  # noqa: ANN001
    """Staff of agency B with the right role ask for agency A's objects: 404, never 200, never 403.
    Dossier reads and actions are tried on a dossier in every state, the rest on one in processing."""
    for key in route_keys(app):
        rule = MATRIX[key]
        if rule.roles is PUBLIC or rule.obj is None:
            continue
        states = list(world.dossiers) if key in ALL_STATES_FOR else ["processing"]
        for role in sorted(rule.roles):
            for state in states:
                response = request(world, key, world.headers(OTHER_USERS[role]), state=state)
                ok = response.status_code == (200 if rule.shared_read and key.startswith("GET ") else 404)
                _check(problems, key, f"other agency {role} on {rule.obj} ({state})", ok, response)
    for role in sorted(REPORTS):  # objects named in the query string
        for path in ("/api/v1/reports/periodic", "/api/v1/reports/on-time", "/api/v1/reports/periodic.csv",
                     "/api/v1/analysis/event-log.xes", "/api/v1/analysis/event-log.ocel.json"):
            response = world.client.get(f"{path}?period=2026&procedure_code={PROCEDURE}",
                                        headers=world.headers(OTHER_USERS[role]))
            _check(problems, f"GET {path}?procedure_code=<A>", f"other agency {role}", response.status_code == 404,
                   response)
        for path in ("/api/v1/analysis/what-if", "/api/v1/analysis/what-if.xlsx"):
            response = world.client.post(path, headers=world.headers(OTHER_USERS[role]), json={
                "procedure_code": PROCEDURE, "period": "2026", "time_limit": {"value": 3, "unit": "working_days"}})
            _check(problems, f"POST {path} procedure_code=<A>", f"other agency {role}", response.status_code == 404,
                   response)


def _codes_in(payload: Any) -> set[str]:
    return set(re.findall(r"\d{3}\.\d{2}\.\d{2}\.H\d{2}-\d{6}-\d{4}", str(payload)))


def check_lists(world: World, problems: list[str]) -> None:
    """Every list of agency B is free of agency A's dossiers, and the other way round."""
    a_codes = {d["code"] for d in world.dossiers.values()}
    b_codes = {world.other["dossier"]["code"]}
    lists = {"desk": ["/api/v1/dossiers", "/api/v1/shipments", "/api/v1/apologies", "/api/v1/alerts",
                      "/api/v1/applicants/001099012345/documents", "/api/v1/dossiers?queue=mine",
                      "/api/v1/dossiers?q=001099012345", "/api/v1/dossiers?q=nguyen"],
             "leader": ["/api/v1/alerts?scope=agency", "/api/v1/apologies", "/api/v1/dossiers",
                        "/api/v1/dossiers?queue=mine", "/api/v1/analysis/at-risk"],
             "admin": ["/api/v1/outbox", "/api/v1/procedures/export", "/api/v1/portal/drift?state=all"],
             "reporter": ["/api/v1/reports/periodic?period=2026", "/api/v1/reports/indicators?period=2026",
                          "/api/v1/analysis/at-risk"]}
    for role, paths in lists.items():
        for path in paths:
            own = world.client.get(path, headers=world.headers(OWN_USERS[role]))
            other = world.client.get(path, headers=world.headers(OTHER_USERS[role]))
            if own.status_code != 200 or other.status_code != 200:
                problems.append(f"GET {path}: {own.status_code} / {other.status_code} {own.text[:200]} {other.text[:200]}")
                continue
            if _codes_in(other.json()) & a_codes:
                problems.append(f"GET {path} as other_{role} shows agency A's {_codes_in(other.json()) & a_codes}")
            if _codes_in(own.json()) & b_codes:
                problems.append(f"GET {path} as {role} of A shows agency B's {_codes_in(own.json()) & b_codes}")
    own = world.client.get("/api/v1/dossiers", headers=world.headers("motcua")).json()
    if {i["code"] for i in own["items"]} != a_codes:
        problems.append(f"GET /api/v1/dossiers as motcua: {sorted(i['code'] for i in own['items'])} != {sorted(a_codes)}")
    at_risk = world.client.get("/api/v1/analysis/at-risk", headers=world.headers("baocao")).json()
    if [i["code"] for i in at_risk["items"]] != [world.dossiers["processing"]["code"]]:
        problems.append(f"GET /api/v1/analysis/at-risk as baocao: {at_risk}")
    overrides = world.client.get("/api/v1/calendar/overrides", headers=world.headers("other_desk")).json()
    if [o["day"] for o in overrides] != ["2027-01-18"]:
        problems.append(f"GET /api/v1/calendar/overrides as other_desk: {overrides}")
    report = world.client.get("/api/v1/reports/periodic?period=2026", headers=world.headers("other_reporter")).json()
    if [r["procedure_code"] for r in report["rows"]] != ["9.999001"]:
        problems.append(f"GET /api/v1/reports/periodic as other_reporter: rows {report['rows']}")
    # An alert is its recipient's: a colleague of the same agency gets 404 too.
    alert = world.ids["alert"]
    for username, expected in (("motcua", 404), ("other_specialist", 404), ("chuyenvien", 200)):
        response = world.client.post(f"/api/v1/alerts/{alert}/ack", headers=world.headers(username))
        if response.status_code != expected:
            problems.append(_describe("POST /api/v1/alerts/{alert_id}/ack", username, response))


def test_authorization_matrix(app, world: World, db_kind: str) -> None:  # noqa: ANN001
    """Anonymous, every role of the own agency (SQLite), another agency's staff on this agency's
    objects and every list (both databases). All problems are reported together."""
    sections: dict[str, list[str]] = {"anonymous": [], "roles": [], "other agency": [], "lists": []}
    check_anonymous(app, world, sections["anonymous"])
    if db_kind == "sqlite":
        check_roles_own_agency(app, world, sections["roles"])
    check_other_agency_objects(app, world, sections["other agency"])
    check_lists(world, sections["lists"])
    report = [f"[{name}] {line}" for name, lines in sections.items() for line in lines]
    assert not report, f"{len(report)} authorization problems:\n" + "\n".join(report)
