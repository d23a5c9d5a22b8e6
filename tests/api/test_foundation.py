"""Foundation: health, readiness, auth, error shape, catalogue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from jose import jwt

from tests.conftest import TEST_SECRET


def test_health_and_ready(client):
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"
    assert ready.headers["X-Request-ID"]


def test_login_and_me(client, login):
    me = client.get("/api/v1/auth/me", headers=login("motcua"))
    assert me.status_code == 200
    body = me.json()
    assert body["roles"] == ["desk"]
    assert body["agency_code"] == "000.00.17.H26.VP"


def test_wrong_password_is_401_in_error_shape(client, demo):
    response = client.post("/api/v1/auth/token", data={"username": "motcua", "password": "nope-nope"})
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_credentials"
    assert "mật khẩu" in response.json()["message"]
    unknown = client.post("/api/v1/auth/token", data={"username": "ghost", "password": "nope-nope"})
    assert unknown.status_code == 401 and unknown.json()["code"] == "invalid_credentials"


def _token(**overrides):
    now = datetime.now(UTC)
    claims = {"sub": "1", "iss": "motcua", "aud": "motcua-api", "iat": int(now.timestamp()),
              "exp": int((now + timedelta(minutes=5)).timestamp())}
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


@pytest.mark.parametrize("case", ["expired", "wrong_key", "wrong_audience", "wrong_issuer", "missing_exp",
                                  "missing_sub", "missing_iat", "missing_aud", "alg_none", "hs512", "garbage"])
def test_bad_tokens_are_401(client, demo, case):
    past = int((datetime.now(UTC) - timedelta(hours=1)).timestamp())
    key, alg, claims = TEST_SECRET, "HS256", _token()
    if case == "expired":
        claims = _token(exp=past)
    elif case == "wrong_key":
        key = "another-secret-another-secret-another-secret"
    elif case == "wrong_audience":
        claims = _token(aud="someone-else")
    elif case == "wrong_issuer":
        claims = _token(iss="evil")
    elif case.startswith("missing_"):
        claims = _token(**{case.removeprefix("missing_"): None})
    elif case == "hs512":
        alg = "HS512"
    if case == "alg_none":
        import base64
        import json

        def b64(data):
            return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

        token = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}."
    elif case == "garbage":
        token = "not-a-token"
    else:
        token = jwt.encode(claims, key, algorithm=alg)
    response = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401, (case, response.text)
    assert response.json()["code"] in {"invalid_token", "not_authenticated"}


def test_no_token_is_401(client):
    response = client.get("/api/v1/procedures")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_list_and_search_demo_procedures(client, login):
    headers = login("motcua")
    page = client.get("/api/v1/procedures", headers=headers).json()
    assert page["total"] >= 20
    names = [p["name"] for p in page["items"]]
    assert any("bản sao văn bằng" in n.lower() for n in names)
    found = client.get("/api/v1/procedures", params={"q": "VĂN BẰNG"}, headers=headers).json()
    assert found["total"] >= 1
    first = page["items"][0]
    detail = client.get(f"/api/v1/procedures/{first['code']}", headers=headers).json()
    assert detail["workflow"] and detail["online_level_legacy"] in (2, 3, 4)


def test_catalogue_admin_only_and_scoped(client, login):
    body = {"code": "9.999001", "name": "Thủ tục thử nghiệm", "field_code": "TN", "field_name": "Thử nghiệm",
            "time_limit_value": 2, "workflow": [{"name": "Chuyên viên xử lý", "role": "specialist",
                                                  "budget_hours": 8}]}
    assert client.post("/api/v1/procedures", json=body, headers=login("motcua")).status_code == 403
    created = client.post("/api/v1/procedures", json=body, headers=login("admin"))
    assert created.status_code == 201, created.text
    assert client.post("/api/v1/procedures", json=body, headers=login("admin")).status_code == 409
    # Another Department's admin cannot touch it: it is "not found" for them.
    other = login("other_admin")
    assert client.patch("/api/v1/procedures/9.999001", json={"fee": 1}, headers=other).status_code == 404
    patched = client.patch("/api/v1/procedures/9.999001", json={"fee": 50000}, headers=login("admin"))
    assert patched.status_code == 200 and patched.json()["fee"] == 50000
    off = client.post("/api/v1/procedures/9.999001/deactivate", headers=login("admin"))
    assert off.json()["is_active"] is False
    listed = client.get("/api/v1/procedures", params={"q": "9.999001"}, headers=login("motcua")).json()
    assert listed["total"] == 0


def test_budget_over_limit_is_422(client, login):
    body = {"code": "9.999002", "name": "Thủ tục thử nghiệm", "field_code": "TN", "field_name": "Thử nghiệm",
            "time_limit_value": 1, "workflow": [{"name": "Bước dài", "role": "specialist", "budget_hours": 40}]}
    response = client.post("/api/v1/procedures", json=body, headers=login("admin"))
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"


def test_export_import_round_trip(client, login):
    headers = login("admin")
    exported = client.get("/api/v1/procedures/export", headers=headers)
    assert exported.status_code == 200
    items = exported.json()
    assert len(items) >= 20
    again = client.post("/api/v1/procedures/import", json=items, headers=headers).json()
    assert again == {"created": 0, "updated": len(items)}


def test_bad_json_is_422_not_500(client, login):
    response = client.post("/api/v1/procedures", content=b"{not json", headers={**login("admin"),
                                                                                "Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"


def test_unknown_route_404_shape(client):
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
