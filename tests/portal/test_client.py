"""The httpx adapter for the national portal, driven against the in-process mock."""

from __future__ import annotations

import logging
import socket
import warnings
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from app.portal.client import PortalClient, PortalRejected, PortalUnavailable
from tests.portal.conftest import mock_portal
from tests.portal.test_mock_portal import CODE, CODE2, history_row, make_dossier, submission

with warnings.catch_warnings():  # starlette warns that it prefers httpx2; the installed httpx works
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient


@pytest.fixture
def portal() -> Iterator[TestClient]:
    with mock_portal() as tc:
        yield tc


@pytest.fixture
def portal_client(portal: TestClient) -> PortalClient:
    return PortalClient(base_url="http://testserver/", username="motcua", password="motcua-demo", http=portal)


def counts(portal: TestClient) -> dict[str, int]:
    return portal.get("/_control/state").json()["counts"]


def mock_transport_client(handler: Any) -> PortalClient:
    return PortalClient(base_url="http://portal.test", username="u", password="p",
                        http=httpx.Client(transport=httpx.MockTransport(handler)))


def test_happy_path(portal_client: PortalClient, portal: TestClient) -> None:
    r = portal_client.sync_dossiers([make_dossier()], is_updating=False, idempotency_key="s1")
    assert r["error_code"] == 0
    r = portal_client.sync_dossiers([make_dossier(status=4)], is_updating=True, idempotency_key="s2")
    assert r["error_code"] == 0
    step = history_row(CODE, 5, "Yêu cầu bổ sung", "20260317100000")
    r = portal_client.update_progress([{"MaHoSo": CODE, "TrangThaiHoSo": 5, "QuaTrinhXuLy": [step]}], idempotency_key="p1")
    assert r["error_code"] == 0
    held = portal_client.lookup(CODE)
    assert held is not None and [h["TrangThaiHoSo"] for h in held["LichSuTrangThai"]] == [2, 4, 5]
    assert portal_client.lookup(CODE2) is None
    assert counts(portal)["logins"] == 1  # the session is cached


def test_pull_submissions(portal_client: PortalClient, portal: TestClient) -> None:
    assert portal_client.pull_submissions(None) == ([], None)
    portal.post("/submissions", json=submission(TrichYeuHoSo="A"))
    portal.post("/submissions", json=submission(TrichYeuHoSo="B"))
    items, cursor = portal_client.pull_submissions(None)
    assert [s["TrichYeuHoSo"] for s in items] == ["A", "B"] and cursor
    assert portal_client.pull_submissions(cursor) == ([], cursor)
    portal.post("/submissions", json=submission(TrichYeuHoSo="C"))
    items, nxt = portal_client.pull_submissions(cursor)
    assert [s["TrichYeuHoSo"] for s in items] == ["C"] and nxt != cursor


def test_duplicate_key_is_success(portal_client: PortalClient) -> None:
    portal_client.sync_dossiers([make_dossier()], is_updating=False, idempotency_key="same")
    r = portal_client.sync_dossiers([make_dossier()], is_updating=False, idempotency_key="same")
    assert r["error_code"] == 0 and r["duplicate"] is True


def test_relogin_after_session_expiry(portal_client: PortalClient, portal: TestClient) -> None:
    portal_client.sync_dossiers([make_dossier()], is_updating=False, idempotency_key="s1")
    assert portal.post("/_control/sessions/expire").json()["expired"] == 1
    r = portal_client.update_progress([{"MaHoSo": CODE, "TrangThaiHoSo": 4}], idempotency_key="p1")
    assert r["error_code"] == 0
    c = counts(portal)
    assert c["logins"] == 2 and c["progress_applied"] == 1


def test_relogin_is_tried_once_only(portal_client: PortalClient, portal: TestClient) -> None:
    portal.post("/_control/faults", json={"session_ttl_seconds": 0})  # every session is born expired
    with pytest.raises(PortalUnavailable) as exc:
        portal_client.lookup(CODE)
    assert exc.value.status_code == 401
    assert counts(portal)["logins"] == 2


def test_503_is_unavailable_and_not_retried(portal_client: PortalClient, portal: TestClient) -> None:
    portal_client.lookup(CODE)  # log in first
    portal.post("/_control/faults", json={"fail_rate": 1})
    with pytest.raises(PortalUnavailable) as exc:
        portal_client.sync_dossiers([make_dossier()], is_updating=False, idempotency_key="s1")
    assert exc.value.status_code == 503 and exc.value.error_code == 5
    assert counts(portal)["faults_503"] == 1  # the dispatcher owns retries


@pytest.mark.parametrize("faults", [{"refuse_login": True}, {"fail_rate": 1}])
def test_refused_login_is_unavailable(portal_client: PortalClient, portal: TestClient, faults: dict[str, Any]) -> None:
    portal.post("/_control/faults", json=faults)
    with pytest.raises(PortalUnavailable):
        portal_client.pull_submissions(None)


def test_wrong_credentials_are_unavailable(portal: TestClient) -> None:
    # Retryable on purpose: fixing the configuration must not dead-letter the queued dossiers.
    c = PortalClient(base_url="http://testserver", username="motcua", password="wrong", http=portal)
    with pytest.raises(PortalUnavailable) as exc:
        c.lookup(CODE)
    assert exc.value.error_code == 1


def test_connection_error_is_unavailable() -> None:
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with PortalClient(base_url=f"http://127.0.0.1:{port}", username="u", password="p", timeout=2) as c:
        with pytest.raises(PortalUnavailable, match="connection error"):
            c.sync_dossiers([make_dossier()], is_updating=False, idempotency_key="s1")


def test_timeout_is_unavailable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow portal", request=request)

    with pytest.raises(PortalUnavailable, match="timeout"):
        mock_transport_client(handler).lookup(CODE)


@pytest.mark.parametrize("answer", [httpx.Response(200, text="<html>proxy</html>"), httpx.Response(302),
                                    httpx.Response(429, json={})])
def test_unreadable_or_throttled_answers_are_unavailable(answer: httpx.Response) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/auth/login":
            return httpx.Response(200, json={"error_code": 0, "session": "t"})
        return answer

    with pytest.raises(PortalUnavailable):
        mock_transport_client(handler).lookup(CODE)


def test_session_header_and_idempotency_key_are_sent() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/auth/login":
            return httpx.Response(200, json={"error_code": 0, "session": f"t{len(seen)}"})
        if request.headers["X-Session"] == "t1":
            return httpx.Response(401, json={"error_code": -1, "message": "hết hạn"})
        return httpx.Response(200, json={"error_code": 0, "message": "ok"})

    mock_transport_client(handler).update_progress([{"MaHoSo": CODE, "TrangThaiHoSo": 4}], idempotency_key="k-9")
    calls = [(r.url.path, r.headers.get("X-Session"), r.headers.get("Idempotency-Key")) for r in seen]
    assert calls == [("/auth/login", None, None), ("/dossiers/progress", "t1", "k-9"),
                     ("/auth/login", None, None), ("/dossiers/progress", "t3", "k-9")]


def test_bad_payload_is_rejected(portal_client: PortalClient) -> None:
    with pytest.raises(PortalRejected) as exc:
        portal_client.sync_dossiers([make_dossier(TrangThaiHoSo=11)], is_updating=False, idempotency_key="s1")
    assert exc.value.status_code == 400 and exc.value.error_code == 2 and "TrangThaiHoSo" in exc.value.message
    with pytest.raises(PortalRejected) as exc:
        portal_client.update_progress([{"MaHoSo": CODE, "TrangThaiHoSo": 4}], idempotency_key="p1")  # unknown dossier
    assert exc.value.status_code == 404 and exc.value.error_code == 4  # the sync handler re-syncs on this


def test_create_conflict_is_rejected_with_its_code(portal_client: PortalClient) -> None:
    portal_client.sync_dossiers([make_dossier()], is_updating=False, idempotency_key="s1")
    with pytest.raises(PortalRejected) as exc:
        portal_client.sync_dossiers([make_dossier()], is_updating=False, idempotency_key="s2")
    assert exc.value.status_code == 409 and exc.value.error_code == 3


def test_error_code_in_a_200_is_rejected() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/auth/login":
            return httpx.Response(200, json={"error_code": 0, "session": "t"})
        return httpx.Response(200, json={"error_code": 2, "message": "Thiếu MaTTHC"})

    with pytest.raises(PortalRejected, match="MaTTHC"):
        mock_transport_client(handler).sync_dossiers([make_dossier()], is_updating=False, idempotency_key="k")


def test_no_personal_data_in_logs(portal_client: PortalClient, portal: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    d = make_dossier()
    portal_client.sync_dossiers([d], is_updating=False, idempotency_key="s1")
    portal_client.sync_dossiers([d], is_updating=False, idempotency_key="s1")
    with pytest.raises(PortalRejected):
        portal_client.sync_dossiers([d], is_updating=False, idempotency_key="s2")
    with pytest.raises(PortalRejected):
        portal_client.sync_dossiers([make_dossier(CODE2, NgayNopHoSo="x")], is_updating=False, idempotency_key="s3")
    portal.post("/_control/sessions/expire")
    portal_client.update_progress([{"MaHoSo": CODE, "TrangThaiHoSo": 4, "QuaTrinhXuLy": [history_row(CODE, 4, "x")]}],
                           idempotency_key="p1")
    portal_client.lookup(CODE)
    portal.post("/submissions", json=submission())
    portal_client.pull_submissions(None)
    text = caplog.text
    assert CODE in text  # MaHoSo is what operators need
    for personal in (d["ChuHoSo"], d["SoGiayToChuHoSo"], d["SoDienThoai"], d["Email"], "Trần Thị Bình",
                     submission()["ChuHoSo"], submission()["SoGiayToChuHoSo"], "motcua-demo"):
        assert personal not in text


def test_close_only_closes_an_owned_client(portal: TestClient) -> None:
    PortalClient(base_url="http://testserver", username="motcua", password="motcua-demo", http=portal).close()
    assert not portal.is_closed
    owned = PortalClient(base_url="http://testserver", username="u", password="p")
    owned.close()
    assert owned._http.is_closed
