"""Hostile input answers 4xx in the error shape, never 500, on SQLite and PostgreSQL (issue 12,
items 1-3 and the no-store part of 10): control characters anywhere, out-of-range integers and
dates, deep JSON, an overflowing token subject, oversized bodies (declared and chunked); naive
times are Vietnamese time and every response time is written with +07:00."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from jose import jwt

from app.api.deps import SessionDep
from app.fields import LOCAL_TZ_NAME
from tests.conftest import TEST_SECRET, make_settings
from tests.workflows.test_scenarios import intake_body, receive, required_documents

ERROR_KEYS = {"code", "message", "detail"}
VIETNAMESE = re.compile(r"[ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ]", re.IGNORECASE)
# Every control character of C0 and C1 but TAB/LF/CR, which are text in a body.
CONTROLS = ["\x00", "\x01", "\x08", "\x0b", "\x1b", "\x7f", "\x85", "\x9f"]


def assert_error(response, status: int, code: str | None = None) -> dict:  # noqa: ANN001
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == ERROR_KEYS and VIETNAMESE.search(body["message"]), body
    if code:
        assert body["code"] == code, body
    return body


@pytest.fixture
def no_tracebacks(caplog):  # noqa: ANN001, ANN201
    """No request of the test may log an unhandled error (the ~24 KB traceback of the issue)."""
    caplog.set_level(logging.WARNING)
    yield
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]


# --- item 1: control characters --------------------------------------------------------------------

@pytest.mark.parametrize("char", CONTROLS)
def test_control_characters_in_a_json_body_answer_422(client, login, char, no_tracebacks):  # noqa: ANN001
    desk = login("motcua")
    body = intake_body(documents=required_documents(client, desk))
    body["applicant"]["full_name"] = f"Nguyễn{char}Văn An"
    assert_error(client.post("/api/v1/dossiers", json=body, headers=desk), 422, "validation_error")
    # A key too, and a string deep in a list.
    body = intake_body(documents=[{"name": f"Đơn{char}"}])
    assert_error(client.post("/api/v1/dossiers", json=body, headers=desk), 422)
    assert_error(client.post("/api/v1/dossiers", json={f"k{char}": 1}, headers=desk), 422)


def test_json_escaped_nul_and_lone_surrogate_answer_422(client, login, no_tracebacks):  # noqa: ANN001
    desk = login("motcua")
    for raw in ('"Nguy\\u0000n"', '"Nguy\\ud800n"'):
        text = json.dumps(intake_body(documents=required_documents(client, desk)), ensure_ascii=False).replace('"Nguyễn Văn An"', raw)
        response = client.post("/api/v1/dossiers", content=text.encode(), headers={**desk,
                               "Content-Type": "application/json"})
        body = assert_error(response, 422, "validation_error")
        assert body["detail"][0]["loc"] == ["body", "applicant", "full_name"]


def test_tab_and_newline_stay_allowed_in_body_text(client, login):  # noqa: ANN001
    desk = login("motcua")
    body = intake_body(documents=required_documents(client, desk), note="Dòng 1\nDòng 2\tcột\r\n")
    assert client.post("/api/v1/dossiers", json=body, headers=desk).status_code == 201


def test_control_characters_in_query_path_and_forms_answer_422(client, login, no_tracebacks):  # noqa: ANN001
    desk = login("motcua")
    dossier = receive(client, login)
    assert_error(client.get("/api/v1/dossiers", params={"procedure_code": "2.00\x001914"}, headers=desk), 422)
    assert_error(client.get("/api/v1/dossiers?procedure_code=a%00b", headers=desk), 422)
    assert_error(client.get("/api/v1/dossiers?a%00b=1", headers=desk), 422)
    assert_error(client.get("/api/v1/dossiers?procedure_code=a%0Ab", headers=desk), 422)  # no newline in a URL
    assert_error(client.get(f"/api/v1/dossiers/{dossier['code']}%00", headers=desk), 422)
    assert_error(client.get("/api/v1/procedures/2.00%001914", headers=desk), 422)
    # The login form (urlencoded and multipart), unauthenticated.
    assert_error(client.post("/api/v1/auth/token", data={"username": "motcua\x00", "password": "demo1234"}), 422)
    assert_error(client.post("/api/v1/auth/token", content=b"username=motcua%00&password=x",
                             headers={"Content-Type": "application/x-www-form-urlencoded"}), 422)
    assert_error(client.post("/api/v1/auth/token", files={"username": (None, "mot\x00cua"),
                                                          "password": (None, "demo1234")}), 422)
    # The citizen lookup: the API and the /tra-cuu page form.
    assert_error(client.post("/api/v1/public/lookup", json={"code": dossier["code"] + "\x00", "secret": "x" * 8}), 422)
    assert_error(client.post("/tra-cuu", data={"code": dossier["code"], "secret": "ab\x00cd"}), 422)
    # A file name of an upload (its content is data, checked by the importer).
    files = {"file": ("lich\x00su.csv", b"code\n", "text/csv")}
    assert_error(client.post("/api/v1/imports?dry_run=true", files=files, headers=login("admin")), 422)
    # Nothing of it reached the database: the valid requests still answer.
    assert client.post("/api/v1/auth/token", data={"username": "motcua", "password": "demo1234"}).status_code == 200


# --- item 1: integers, dates, depth, token subject ---------------------------------------------------

def test_out_of_range_integers_answer_422(client, login, no_tracebacks):  # noqa: ANN001
    desk = login("motcua")
    dossier = receive(client, login)
    for before in ("2147483648", "9223372036854775808", "1" + "0" * 40):
        assert_error(client.get(f"/api/v1/dossiers?before={before}", headers=desk), 422)
    assert_error(client.delete("/api/v1/calendar/overrides/2147483648", headers=login("admin")), 422)
    assert_error(client.patch("/api/v1/shipments/9223372036854775808", json={"status": "delivered"},
                              headers=desk), 422)
    for version in (2**31, 2**63, -(2**63) - 1):
        response = client.post(f"/api/v1/dossiers/{dossier['code']}/actions/forward",
                               json={"version": version, "assignee": "chuyenvien"}, headers=desk)
        assert_error(response, 422)
    body = intake_body(documents=required_documents(client, desk), channel="postal", return_method="postal",
                       postal={"tracking_number": "EB123456789VN", "fee": 2**31})
    assert_error(client.post("/api/v1/dossiers", json=body, headers=login("buudien")), 422)
    # An integer of 5,000 digits (beyond Python's int-from-text limit).
    text = json.dumps({"version": 1, "assignee": "chuyenvien"}).replace("1", "9" * 5000, 1)
    response = client.post(f"/api/v1/dossiers/{dossier['code']}/actions/forward", content=text.encode(),
                           headers={**desk, "Content-Type": "application/json"})
    assert_error(response, 422)


def test_dates_outside_1900_2100_answer_422(client, login, no_tracebacks):  # noqa: ANN001
    desk = login("motcua")
    for value in ("1899-12-31", "2101-01-01T00:00:00", "0001-01-01T00:00:00-14:00", "9999-12-31T23:59:59+14:00"):
        assert_error(client.get("/api/v1/dossiers", params={"received_from": value}, headers=desk), 422)
    for value in ("1899-12-31", "2101-01-01"):
        assert_error(client.get("/api/v1/reports/periodic", params={"from": value, "to": "2026-01-01"},
                                headers=login("baocao")), 422)
        assert_error(client.post("/api/v1/calendar/overrides", json={"day": value, "is_working": True,
                                                                     "reason": "Làm bù"}, headers=login("admin")), 422)


@pytest.mark.parametrize("depth", [33, 100, 100_000])
def test_deeply_nested_json_answers_422(client, login, depth, no_tracebacks):  # noqa: ANN001
    text = "[" * depth + "]" * depth
    for headers in ({**login("motcua"), "Content-Type": "application/json"}, {}):
        response = client.post("/api/v1/public/lookup" if not headers else "/api/v1/dossiers",
                               content=text.encode(), headers=headers)
        assert_error(response, 422)


def test_nesting_the_schemas_use_is_accepted(client, login):  # noqa: ANN001
    desk = login("motcua")
    body = intake_body(documents=required_documents(client, desk))
    assert client.post("/api/v1/dossiers", json=body, headers=desk).status_code == 201


def test_token_subject_beyond_the_user_ids_answers_401(client, demo, no_tracebacks):  # noqa: ANN001
    now = datetime.now(UTC)
    for sub in ("99999999999999999999", str(2**31), "-1", "0", "1" * 5000):
        claims = {"sub": sub, "name": "x", "roles": ["admin"], "iss": "motcua", "aud": "motcua-api",
                  "iat": int(now.timestamp()), "exp": int((now + timedelta(minutes=5)).timestamp())}
        token = jwt.encode(claims, TEST_SECRET, algorithm="HS256")
        response = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert_error(response, 401)


# --- item 2: naive times are Vietnamese time; responses are +07:00 ----------------------------------

def _times(value, found: list[str]) -> list[str]:  # noqa: ANN001
    if isinstance(value, dict):
        for item in value.values():
            _times(item, found)
    elif isinstance(value, list):
        for item in value:
            _times(item, found)
    elif isinstance(value, str) and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)?", value):
        found.append(value)
    return found


def test_naive_times_are_vietnamese_time_and_answers_are_plus_seven(client, login, clock):  # noqa: ANN001
    postal = login("buudien")
    body = intake_body(documents=required_documents(client, postal), channel="postal", return_method="postal",
                       postal={"tracking_number": "EB123456789VN", "handed_over_at": "2026-11-20T15:00:00"},
                       received_by="motcua")
    response = client.post("/api/v1/dossiers", json=body, headers=postal)
    assert response.status_code == 201, response.text
    dossier = response.json()
    assert dossier["postal_handed_over_at"] == "2026-11-20T15:00:00+07:00"
    assert dossier["received_at"] == "2026-11-23T09:00:00+07:00"
    desk = login("motcua")
    # A day or a moment without an offset: Vietnamese time, so 23/11 00:00 (+07) includes 09:00 today.
    for received_from, found in [("2026-11-23", 1), ("2026-11-23T09:00:00", 1), ("2026-11-23T09:00:01", 0),
                                 ("2026-11-23T02:00:00Z", 1), ("2026-11-23T02:00:01Z", 0)]:
        page = client.get("/api/v1/dossiers", params={"received_from": received_from}, headers=desk)
        assert page.status_code == 200, page.text
        assert len(page.json()["items"]) == found, received_from
    # A calendar change recomputes the appointment: its event keeps the moments before and after.
    change = client.post("/api/v1/calendar/overrides", json={"day": "2026-11-25", "is_working": False,
                                                            "reason": "Nghỉ đột xuất"}, headers=login("admin"))
    assert change.status_code in (200, 201) and change.json()["recomputed_dossiers"] == [dossier["code"]], change.text
    events = client.get(f"/api/v1/dossiers/{dossier['code']}/events", headers=desk).json()
    assert any(e["data"].get("due_after", "").endswith("+07:00") for e in events), events
    # Every time of every answer carries +07:00.
    urls = [f"/api/v1/dossiers/{dossier['code']}", f"/api/v1/dossiers/{dossier['code']}/events",
            f"/api/v1/dossiers/{dossier['code']}/deadline", f"/api/v1/dossiers/{dossier['code']}/shipments",
            "/api/v1/dossiers", "/api/v1/outbox", "/api/v1/alerts"]
    times: list[str] = []
    for url in urls:
        user = login("admin") if "outbox" in url else desk
        response = client.get(url, headers=user)
        assert response.status_code == 200, (url, response.text)
        _times(response.json(), times)
    lookup = client.post("/api/v1/public/lookup", json={"code": dossier["code"], "secret": dossier["lookup_secret"]})
    _times(lookup.json(), times)
    assert len(times) > 10
    assert all(t.endswith("+07:00") for t in times), [t for t in times if not t.endswith("+07:00")]


def test_every_time_in_the_openapi_schema_is_the_local_type(app):  # noqa: ANN001
    """Each date-time of every request and response schema (and parameter) is `LocalDateTime`:
    documented as Vietnamese time (`x-timezone`), with its note in the description."""
    schema = app.openapi()
    bare: list[str] = []

    def walk(node, where: str) -> None:  # noqa: ANN001
        if isinstance(node, dict):
            if node.get("format") == "date-time" and node.get("x-timezone") != LOCAL_TZ_NAME:
                bare.append(where)
            for key, value in node.items():
                walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{where}/{i}")

    walk(schema, "#")
    assert not bare, "date-time without the local type (app.fields.LocalDateTime):\n" + "\n".join(bare)
    postal = schema["components"]["schemas"]["PostalInbound"]["properties"]["handed_over_at"]
    assert "Asia/Ho_Chi_Minh" in json.dumps(postal, ensure_ascii=False)


# --- item 3: size limits -------------------------------------------------------------------------------

@pytest.fixture
def small_client(settings, clock, engine, demo):  # noqa: ANN001, ANN201
    """The app with small caps: JSON and forms 8 KB, uploads 64 KB."""
    from app.main import create_app

    small = make_settings(settings.database_url, max_body_bytes=8 * 1024, max_upload_bytes=64 * 1024)
    with TestClient(create_app(small, clock=clock, engine=engine)) as client:
        yield client


def _token(client: TestClient, username: str) -> dict[str, str]:
    response = client.post("/api/v1/auth/token", data={"username": username, "password": "demo1234"})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_bodies_over_the_cap_answer_413_declared_or_chunked(small_client, no_tracebacks):  # noqa: ANN001
    desk = _token(small_client, "motcua")
    big = json.dumps(intake_body(note="x" * 9000)).encode()
    body = assert_error(small_client.post("/api/v1/dossiers", content=big,
                                          headers={**desk, "Content-Type": "application/json"}), 413, "payload_too_large")
    assert body["detail"] == {"max_bytes": 8 * 1024}

    def chunks():  # no Content-Length: Transfer-Encoding chunked
        for i in range(0, len(big), 1000):
            yield big[i:i + 1000]

    assert_error(small_client.post("/api/v1/dossiers", content=chunks(),
                                   headers={**desk, "Content-Type": "application/json"}), 413, "payload_too_large")
    # A body the guard does not parse (here text/plain) is counted as it streams.
    assert_error(small_client.post("/api/v1/dossiers", content=chunks(),
                                   headers={**desk, "Content-Type": "text/plain"}), 413, "payload_too_large")
    # Forms too, unauthenticated.
    assert_error(small_client.post("/api/v1/auth/token", data={"username": "u" * 9000, "password": "x"}), 413)
    assert_error(small_client.post("/tra-cuu", data={"code": "c" * 9000, "secret": "x"}), 413)


def test_uploads_have_their_own_larger_cap(small_client):  # noqa: ANN001
    admin = _token(small_client, "admin")
    csv = b"code,procedure_code\n" + b"X-1,2.001914\n" * 2000  # 26 KB: over the JSON cap, under the upload cap
    ok = small_client.post("/api/v1/imports?dry_run=true", files={"file": ("lich-su.csv", csv, "text/csv")},
                           headers=admin)
    assert ok.status_code != 413 and ok.status_code < 500, ok.text
    huge = csv * 3  # 78 KB
    assert_error(small_client.post("/api/v1/imports?dry_run=true", files={"file": ("lich-su.csv", huge, "text/csv")},
                                   headers=admin), 413, "payload_too_large")


# --- item 10: token and personal data are never cached ------------------------------------------------

def test_tokens_dossiers_and_lookups_are_no_store(client, login):  # noqa: ANN001
    token = client.post("/api/v1/auth/token", data={"username": "motcua", "password": "demo1234"})
    assert token.status_code == 200 and token.headers["cache-control"] == "no-store"
    dossier = receive(client, login)
    desk = login("motcua")
    for url in (f"/api/v1/dossiers/{dossier['code']}", "/api/v1/dossiers", f"/api/v1/dossiers/{dossier['code']}/events",
                "/api/v1/auth/me"):
        response = client.get(url, headers=desk)
        assert response.status_code == 200 and response.headers["cache-control"] == "no-store", url
    lookup = client.post("/api/v1/public/lookup", json={"code": dossier["code"], "secret": dossier["lookup_secret"]})
    assert lookup.status_code == 200 and lookup.headers["cache-control"] == "no-store"
    page = client.post("/tra-cuu", data={"code": dossier["code"], "secret": dossier["lookup_secret"]})
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    # Errors too (a 401 may still name the reason); static assets keep their own caching.
    assert client.get("/api/v1/dossiers").headers["cache-control"] == "no-store"


def test_a_value_the_database_refuses_is_422_not_500(app, db_kind, caplog):  # noqa: ANN001
    """Behind the types and the guard: a route that lets an out-of-range integer (or, on PostgreSQL,
    a NUL) reach the database answers 422 `invalid_value`, and no traceback is logged."""
    from sqlalchemy import text

    @app.get("/test-only/echo")
    def echo(session: SessionDep, kind: str) -> dict:
        if kind == "int":
            value = session.execute(text("SELECT CAST(:v AS INTEGER)"), {"v": 2**70}).scalar()
        else:
            value = session.execute(text("SELECT CAST(:v AS TEXT)"), {"v": "a\x00b"}).scalar()
        return {"value": value}

    caplog.set_level(logging.WARNING)
    with TestClient(app, raise_server_exceptions=False) as client:
        assert_error(client.get("/test-only/echo?kind=int"), 422, "invalid_value")
        if db_kind == "postgresql":
            assert_error(client.get("/test-only/echo?kind=nul"), 422, "invalid_value")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert all("a\x00b" not in r.getMessage() for r in caplog.records)


def test_moments_in_error_details_are_plus_seven(app):  # noqa: ANN001
    from app.errors import Invalid

    @app.get("/test-only/late")
    def late() -> dict:
        raise Invalid("Ngày hẹn mới phải sau ngày hẹn cũ.", code="appointment_not_after_due",
                      detail={"original_due_at": "2026-12-01T02:00:00+00:00", "note": "2026-12-01"})

    with TestClient(app) as client:
        body = assert_error(client.get("/test-only/late"), 422, "appointment_not_after_due")
    assert body["detail"] == {"original_due_at": "2026-12-01T09:00:00+07:00", "note": "2026-12-01"}


def test_a_body_cut_off_by_a_disconnect_never_reaches_the_app():
    """The guard reads a JSON/form/multipart body whole before the app sees it: when the client
    goes away half-way, the app is not called with half a body (a truncated form is still a form)."""
    import asyncio

    from app.edge import RequestGuard

    called: list[bytes] = []

    async def inner(scope, receive, send):  # noqa: ANN001, ANN202
        called.append((await receive())["body"])

    messages = [{"type": "http.request", "body": b"code=000.00.17&sec", "more_body": True},
                {"type": "http.disconnect"}]

    async def receive():  # noqa: ANN202
        return messages.pop(0)

    async def send(message):  # noqa: ANN001, ANN202
        raise AssertionError("nothing to answer a client that is gone")

    guard = RequestGuard(inner, max_body_bytes=1024, max_upload_bytes=4096, max_json_depth=32)
    scope = {"type": "http", "method": "POST", "path": "/tra-cuu", "query_string": b"",
             "headers": [(b"content-type", b"application/x-www-form-urlencoded")]}
    asyncio.run(guard(scope, receive, send))
    assert called == []
