"""The citizen lookup API (POST /api/v1/public/lookup) and its rate limits, on both databases."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func
from sqlmodel import Session, select

from app.models import Apology, Dossier, RateCounter
from app.web import citizen_lookup, citizen_view, ratelimit
from tests.conftest import VN, make_settings
from tests.workflows.test_scenarios import act, ready, intake_body, receive, required_documents

LOOKUP = "/api/v1/public/lookup"
STAFF_NAMES = ("Nguyễn Thị Lan", "Trần Văn Minh", "Lê Thị Hoa", "Phạm Quốc Hùng", "chuyenvien", "motcua")


def lookup(client, code, secret, **kwargs):
    return client.post(LOOKUP, json={"code": code, "secret": secret}, **kwargs)


def test_right_secret_shows_the_citizen_view(client, login):
    dossier = receive(client, login)
    response = lookup(client, dossier["code"], dossier["lookup_secret"])
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    view = response.json()
    assert view["code"] == dossier["code"]
    assert view["status"] == "received" and view["status_label"] == "Đã tiếp nhận"
    assert view["status_text"].startswith("Hồ sơ đã được tiếp nhận đầy đủ")
    assert view["procedure_code"] == "2.001914" and view["procedure_name"] == dossier["procedure_name"]
    # Received Monday 23/11/2026 09:00; 5 working days with Culture Day off → Tuesday 1/12/2026 09:00.
    assert view["received_text"] == "09:00 ngày 23/11/2026"
    assert view["due_text"] == "09:00 ngày 01/12/2026"
    assert view["appointment_date"] == "01/12/2026" and view["appointment_detail"] == "Thứ Ba, lúc 09:00"
    assert view["new_due_at"] is None
    assert view["progress"] == "within" and view["progress_label"] == "Trong hạn"
    assert view["applicant_name"] == "Nguyễn V** A*"
    assert [t["label"] for t in view["timeline"]] == ["Tiếp nhận hồ sơ"]
    assert view["timeline"][0]["date_text"] == "23/11/2026"
    collection = view["collection"]
    assert collection["method"] == "desk" and collection["address"] == "Số 1 đường Mẫu, thành phố Mẫu"
    assert "07:30–11:30 và 13:00–17:00" in collection["office_hours"]
    text = response.text
    for private in ("001099012345", "0912345678", "an@example.vn", "Lê Lợi", "Nguyễn Văn An",
                    dossier["lookup_secret"], "lookup_secret", *STAFF_NAMES):
        assert private not in text, private
    # Typed loosely off the paper slip: spaces, lower case, no dash.
    sloppy = " " + dossier["lookup_secret"].replace("-", "").lower() + " "
    assert lookup(client, " " + dossier["code"].lower() + " ", sloppy).json() == view


def test_wrong_secret_and_unknown_code_are_the_same_404(client, login, session, settings, clock):
    dossier = receive(client, login)
    wrong = lookup(client, dossier["code"], "ZZZZ-ZZZZ")
    unknown = lookup(client, "000.00.17.H26-261123-9999", dossier["lookup_secret"])
    assert wrong.status_code == unknown.status_code == 404
    assert wrong.json() == unknown.json()
    assert wrong.json()["code"] == "lookup_failed"
    assert "Không tìm thấy hồ sơ" in wrong.json()["message"]
    assert failures(session, dossier["code"], clock, settings) == 1
    lookup(client, dossier["code"], "YYYY-YYYY")
    assert failures(session, dossier["code"], clock, settings) == 2


def failures(session, code, clock, settings) -> int:
    count = citizen_lookup.failed_attempts(session, code, now=clock.now(), settings=settings)
    session.rollback()  # end the read: on SQLite every transaction holds the write lock
    return count


def test_failed_lookups_are_logged_and_counted_without_personal_data(client, login, caplog, session):
    dossier = receive(client, login)
    with caplog.at_level(logging.INFO):
        lookup(client, dossier["code"], "ZZZZ-ZZZZ", headers={"X-Forwarded-For": "203.0.113.7"})
    failed = [r for r in caplog.records if r.getMessage() == "public lookup failed"]
    assert len(failed) == 1
    fields = failed[0].fields  # type: ignore[attr-defined]
    assert fields["failures_for_code_this_hour"] == 1 and len(fields["client"]) == 24
    logged = json.dumps([r.getMessage() for r in caplog.records] + [getattr(r, "fields", {}) for r in caplog.records],
                        ensure_ascii=False, default=str)
    for private in ("ZZZZ-ZZZZ", dossier["code"], "testclient", "203.0.113.7", "Nguyễn Văn An"):
        assert private not in logged, private
    # The shared counters are keyed by hashes too.
    keys = [row.key for row in session.exec(select(RateCounter)).all()]
    assert sorted(k.split(":")[1] for k in keys if k.startswith("lookup:")) == ["addr", "addrcode", "fail"]
    assert not any(dossier["code"] in k or "testclient" in k for k in keys)


def test_bad_bodies_are_4xx(client):
    assert client.post(LOOKUP, json={"code": "x"}).status_code == 422
    assert client.post(LOOKUP, json={"code": "x" * 65, "secret": "ABCD-EFGH"}).status_code == 422
    assert client.post(LOOKUP, json={"code": "x", "secret": "s", "extra": 1}).status_code == 422
    assert client.post(LOOKUP, content=b"not json", headers={"Content-Type": "application/json"}).status_code == 422
    assert lookup(client, "💥'; DROP TABLE dossiers;--", "!!!!").status_code == 404


def test_secret_is_never_accepted_in_the_query_string(client, login):
    dossier = receive(client, login)
    query = {"code": dossier["code"], "secret": dossier["lookup_secret"]}
    assert client.post(LOOKUP, params=query).status_code == 422  # no body: nothing to look up
    both = client.post(LOOKUP, params={"secret": dossier["lookup_secret"]},
                       json={"code": dossier["code"], "secret": dossier["lookup_secret"]})
    assert both.status_code == 400 and both.json()["code"] == "secret_in_url"
    assert client.get(LOOKUP, params=query).status_code == 405
    page = client.get("/tra-cuu", params=query)
    assert page.status_code == 200 and dossier["lookup_secret"] not in page.text


def test_timeline_hides_staff_and_internal_notes_but_shows_supplement_items(client, login, clock):
    dossier = receive(client, login, note="Ghi chú nội bộ khi tiếp nhận")
    secret = dossier["lookup_secret"]
    desk, specialist = login("motcua"), login("chuyenvien")
    dossier = act(client, desk, dossier, "forward", assignee="chuyenvien", note="Chuyển gấp cho anh Minh")
    clock.advance(hours=1)
    act(client, specialist, dossier, "request_supplement", items=["Bản sao giấy khai sinh", "Ảnh 3x4"],
        note="Hồ sơ có dấu hiệu tẩy xóa, kiểm tra kỹ")
    view = lookup(client, dossier["code"], secret).json()
    assert view["status"] == "awaiting_supplement"
    assert [t["label"] for t in view["timeline"]] == [
        "Tiếp nhận hồ sơ", "Chuyển bước xử lý", "Yêu cầu bổ sung, hoàn thiện hồ sơ"]
    assert view["timeline"][2]["items"] == ["Bản sao giấy khai sinh", "Ảnh 3x4"]
    assert view["pending_supplement_items"] == ["Bản sao giấy khai sinh", "Ảnh 3x4"]
    assert view["progress"] is None and view["appointment_date"] == "01/12/2026"
    text = json.dumps(view, ensure_ascii=False)
    for hidden in ("Ghi chú nội bộ", "anh Minh", "tẩy xóa", *STAFF_NAMES, "specialist", "actor"):
        assert hidden not in text, hidden


def test_refusal_and_stop_show_their_reason(client, login):
    desk = login("motcua")
    body = intake_body(decision="refuse", reason="Không thuộc thẩm quyền của Sở")
    refused = client.post("/api/v1/dossiers", json=body, headers=desk).json()
    view = lookup(client, refused["code"], refused["lookup_secret"]).json()
    assert view["status"] == "refused" and view["closing_reason"] == "Không thuộc thẩm quyền của Sở"
    assert view["timeline"][0]["label"] == "Từ chối tiếp nhận"
    assert view["timeline"][0]["reason"] == "Không thuộc thẩm quyền của Sở"
    assert view["appointment_date"] is None

    dossier = receive(client, login)
    secret = dossier["lookup_secret"]
    dossier = act(client, desk, dossier, "forward", assignee="chuyenvien")
    act(client, login("giamdoc"), dossier, "stop", reason="Người nộp đã chết, không còn đối tượng")
    view = lookup(client, dossier["code"], secret).json()
    assert view["status"] == "stopped" and view["timeline"][-1]["label"] == "Dừng xử lý hồ sơ"
    assert view["timeline"][-1]["reason"] == "Người nộp đã chết, không còn đối tượng"


def test_issued_apology_and_new_appointment_are_shown(client, login, session, clock):
    dossier = receive(client, login)
    row = session.exec(select(Dossier).where(Dossier.code == dossier["code"])).one()
    original = row.due_at
    new_due = datetime(2026, 12, 4, 16, 0, tzinfo=VN)
    session.add(Apology(dossier_id=row.id, status="draft", reason="Nháp chưa ký", original_due_at=original,
                        new_due_at=new_due, drafted_at=clock.now()))
    session.add(Apology(dossier_id=row.id, status="issued", reason="Cần xác minh văn bằng với trường cấp",
                        original_due_at=original, new_due_at=new_due, drafted_at=clock.now(),
                        issued_at=datetime(2026, 11, 30, 10, 0, tzinfo=VN), signer_name="Phạm Quốc Hùng",
                        signer_title="Phó Giám đốc Sở"))
    row.new_due_at, row.apology_count = new_due, 1
    session.add(row)
    session.commit()
    view = lookup(client, dossier["code"], dossier["lookup_secret"]).json()
    assert len(view["apologies"]) == 1
    apology = view["apologies"][0]
    assert apology["issued_text"] == "30/11/2026"
    assert apology["reason"] == "Cần xác minh văn bằng với trường cấp"
    assert apology["original_due_text"] == "09:00 ngày 01/12/2026"
    assert apology["new_due_text"] == "16:00 ngày 04/12/2026"
    assert apology["signer_title"] == "Phó Giám đốc Sở"
    assert view["due_text"] == "09:00 ngày 01/12/2026" and view["new_due_text"] == "16:00 ngày 04/12/2026"
    assert view["appointment_date"] == "04/12/2026" and view["appointment_detail"] == "Thứ Sáu, lúc 16:00"
    assert "Phạm Quốc Hùng" not in json.dumps(view, ensure_ascii=False)
    assert "Nháp chưa ký" not in json.dumps(view, ensure_ascii=False)


def test_postal_tracking_and_outcome(client, login, clock):
    desk = login("motcua")
    body = intake_body(documents=required_documents(client, desk), channel="postal", return_method="postal",
                       postal={"tracking_number": "EB123456789VN", "fee": 25000})
    dossier = client.post("/api/v1/dossiers", json=body, headers=desk).json()
    assert dossier["status"] == "received", dossier
    secret = dossier["lookup_secret"]
    dossier = act(client, desk, dossier, "forward", assignee="chuyenvien")
    dossier = act(client, login("chuyenvien"), dossier, "forward")
    dossier = act(client, login("truongphong"), dossier, "forward")
    clock.advance(hours=1)
    dossier = ready(client, login("giamdoc"), login("motcua"), dossier, result_reference="12/QĐ-SGDĐT")
    view = lookup(client, dossier["code"], secret).json()
    assert view["status"] == "resolved" and "bưu chính" in view["status_text"]
    assert view["outcome"] == "early" and view["outcome_label"] == "Trước hạn" and view["progress"] is None
    act(client, desk, dossier, "return_result", method="postal", tracking_number="EB987654321VN")
    view = lookup(client, dossier["code"], secret).json()
    assert view["status"] == "returned" and view["returned_text"] == "23/11/2026"
    assert view["channel_label"] == "Nộp qua bưu chính công ích"
    assert view["collection"]["method"] == "postal"
    shipments = {s["direction"]: s for s in view["shipments"]}
    assert shipments["inbound"]["tracking_number"] == "EB123456789VN"
    assert shipments["inbound"]["status_label"] == "Đã phát thành công"
    assert shipments["outbound"]["tracking_number"] == "EB987654321VN"
    assert shipments["outbound"]["carrier"] == "VNPost"
    assert shipments["outbound"]["status_label"] == "Đã giao cho bưu điện"
    assert "Lê Lợi" not in json.dumps(view, ensure_ascii=False)  # the delivery address stays private
    assert "12/QĐ-SGDĐT" not in json.dumps(view, ensure_ascii=False)


@pytest.mark.parametrize(("name", "masked"), [
    ("Nguyễn Văn An", "Nguyễn V** A*"),
    ("Lê Thị Hồng Nhung", "Lê T** H*** N****"),
    ("  Đặng   Ánh  ", "Đặng Á**"),
    ("An", "A*"),
    ("", ""),
])
def test_mask_name(name, masked):
    assert citizen_view.mask_name(name) == masked


# --- rate limits -----------------------------------------------------------------------------

def test_rate_limit_per_address_with_retry_after(client, login, clock):
    dossier = receive(client, login)
    for i in range(10):  # default 10 per minute, failures and successes alike
        # Failures on another code (on this one, the per address+code limit would answer first).
        code, secret = (dossier["code"], dossier["lookup_secret"]) if i % 2 else ("000.00.17.H26-261123-9999",
                                                                                   "ZZZZ-ZZZZ")
        # No trusted proxy is configured: a forged X-Forwarded-For changes nothing.
        response = lookup(client, code, secret, headers={"X-Forwarded-For": f"198.51.100.{i}"})
        assert response.status_code == (200 if i % 2 else 404)
    clock.advance(seconds=15)
    limited = lookup(client, dossier["code"], dossier["lookup_secret"])
    assert limited.status_code == 429
    assert limited.json()["code"] == "rate_limited" and limited.json()["detail"]["scope"] == "address"
    assert limited.headers["Retry-After"] == "45"
    assert "45 giây" in limited.json()["message"]
    clock.advance(seconds=45)  # a new minute
    assert lookup(client, dossier["code"], dossier["lookup_secret"]).status_code == 200


def test_strangers_failures_on_a_code_never_block_its_holder(engine, settings, login, client, clock):
    """Issue 12 item 5: failures from many addresses on one code (far past the code-wide figure)
    leave the holder of the right secret, from their own address, able to look it up."""
    from app.main import create_app

    dossier = receive(client, login)
    proxied = create_app(make_settings(settings.database_url, trusted_proxies=["10.0.0.0/8"]), clock=clock,
                         engine=engine)
    with TestClient(proxied, client=("10.0.0.5", 40000)) as behind_proxy:
        for i in range(60):  # three times the code-wide figure (20 per hour), each from another address
            response = lookup(behind_proxy, dossier["code"], "ZZZZZ-ZZZZZ",
                              headers={"X-Forwarded-For": f"198.51.100.{i}"})
            assert response.status_code == 404
        holder = lookup(behind_proxy, dossier["code"], dossier["lookup_secret"],
                        headers={"X-Forwarded-For": "198.51.100.200"})
        assert holder.status_code == 200, holder.text
        assert holder.json()["code"] == dossier["code"]


def test_rate_limit_per_address_and_code(engine, settings, login, client, clock):
    """Five wrong secrets from one address on one code: that address is refused that code for the
    hour (the right secret included, so guesses beyond the limit learn nothing); other codes from
    that address and that code from another address still work."""
    from app.main import create_app

    dossier, other = receive(client, login), receive(client, login)
    proxied = create_app(make_settings(settings.database_url, trusted_proxies=["10.0.0.0/8"]), clock=clock,
                         engine=engine)
    guesser = {"X-Forwarded-For": "203.0.113.66"}
    with TestClient(proxied, client=("10.0.0.5", 40000)) as behind_proxy:
        for _ in range(5):
            assert lookup(behind_proxy, dossier["code"], "ZZZZZ-ZZZZZ", headers=guesser).status_code == 404
            clock.advance(seconds=61)  # stay under the per-minute address limit
        limited = lookup(behind_proxy, dossier["code"], dossier["lookup_secret"], headers=guesser)
        assert limited.status_code == 429 and limited.json()["detail"]["scope"] == "address_code"
        assert limited.json()["code"] == "rate_limited" and int(limited.headers["Retry-After"]) > 0
        assert lookup(behind_proxy, dossier["code"], "YYYYY-YYYYY", headers=guesser).status_code == 429
        assert lookup(behind_proxy, other["code"], other["lookup_secret"], headers=guesser).status_code == 200
        assert lookup(behind_proxy, dossier["code"], dossier["lookup_secret"],
                      headers={"X-Forwarded-For": "203.0.113.67"}).status_code == 200
        clock.advance(hours=1)
        assert lookup(behind_proxy, dossier["code"], dossier["lookup_secret"], headers=guesser).status_code == 200


def test_lookups_refused_by_validation_count_against_the_address(client, login):
    dossier = receive(client, login)
    for i in range(10):  # 10 per minute, malformed ones included
        bad = client.post(LOOKUP, json={"code": dossier["code"], "secret": "x" * (40 + i)})
        assert bad.status_code == 422 and bad.json()["code"] == "validation_error"
    limited = lookup(client, dossier["code"], dossier["lookup_secret"])
    assert limited.status_code == 429 and limited.json()["detail"]["scope"] == "address"
    # Past the limit, a malformed lookup is refused as such too.
    again = client.post(LOOKUP, json={"code": dossier["code"]})
    assert again.status_code == 429 and again.headers["Retry-After"]
    page = client.post("/tra-cuu", data={"code": dossier["code"], "secret": ""})
    assert page.status_code == 429 and "Retry-After" in page.headers


def test_the_secret_has_at_least_40_bits():
    from app.workflows import codes

    assert codes.SECRET_BITS >= 40
    secret = codes.new_lookup_secret()
    assert len(secret.replace("-", "")) == codes.SECRET_LENGTH == 10 and secret[5] == "-"
    assert codes.normalize_secret(secret.lower().replace("-", " ")) == secret
    assert codes.verify_secret(secret.lower(), codes.hash_secret(secret))
    # Secrets of eight issued before keep working.
    assert codes.verify_secret("abcd efgh", codes.hash_secret("ABCD-EFGH"))
    assert codes.normalize_secret("abcdefgh") == "ABCD-EFGH"


def test_counters_are_shared_between_workers(engine, settings, clock, login, client):
    """Two app instances (two API workers) on one database share the counters."""
    from app.main import create_app

    dossier = receive(client, login)
    other_worker = create_app(settings, clock=clock, engine=engine)
    with TestClient(other_worker) as second:
        for i in range(10):
            worker = client if i % 2 else second
            assert lookup(worker, dossier["code"], dossier["lookup_secret"]).status_code == 200
        assert lookup(second, dossier["code"], dossier["lookup_secret"]).status_code == 429
        assert lookup(client, dossier["code"], dossier["lookup_secret"]).status_code == 429


@pytest.mark.parametrize(("peer", "header", "trusted", "expected"), [
    ("203.0.113.9", None, [], "203.0.113.9"),
    ("203.0.113.9", "1.2.3.4", [], "203.0.113.9"),  # nobody trusted: the header is ignored
    ("203.0.113.9", "1.2.3.4", ["10.0.0.0/8"], "203.0.113.9"),  # the peer is not a trusted proxy
    ("10.0.0.2", "1.2.3.4", ["10.0.0.0/8"], "1.2.3.4"),
    ("10.0.0.2", "6.6.6.6, 1.2.3.4, 10.0.0.3", ["10.0.0.0/8"], "1.2.3.4"),  # spoofed left part ignored
    ("10.0.0.2", "10.0.0.7, 10.0.0.3", ["10.0.0.0/8"], "10.0.0.7"),
    ("10.0.0.2", "garbage", ["10.0.0.2"], "10.0.0.2"),
    ("10.0.0.2", "1.2.3.4, garbage", ["10.0.0.2"], "10.0.0.2"),
    ("::1", "2001:db8::5", ["::1"], "2001:db8::5"),
    (None, None, [], "unknown"),
])
def test_client_address(peer, header, trusted, expected):
    assert ratelimit.client_address(peer, header, trusted) == expected


def test_fixed_windows_and_retry_after():
    now = datetime(2026, 11, 23, 2, 0, 59, 500000, tzinfo=UTC)
    assert ratelimit.window_start(now, 60) == datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    assert ratelimit.window_start(now, 3600) == datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    hit = ratelimit.Hit(key="k", count=11, limit=10, window_start=ratelimit.window_start(now, 60),
                        window_seconds=60, now=now)
    assert hit.exceeded and hit.retry_after == 1


def _counter_keys(session: Session) -> int:
    return session.exec(select(func.count()).select_from(RateCounter)).one()


def test_expired_counters_are_purged_by_the_scheduler_not_by_lookups(engine, settings, session, clock):
    from app.db import make_sessionmaker
    from app.sla.scheduler import run_rate_counter_purge

    now = clock.now()
    old = now - timedelta(hours=3)
    for i in range(250):
        session.add(RateCounter(key=f"lookup:addr:old{i}", window_start=old, count=3))
    session.add(RateCounter(key="lookup:code:recent", window_start=ratelimit.window_start(now, 3600), count=2))
    session.commit()
    # Counting is one statement and deletes nothing, even when it opens a new window.
    hits = ratelimit.hit_all(session, [("lookup:addr:new", 10, 60), ("lookup:code:recent", 20, 3600)], now=now)
    session.commit()
    assert [(h.key, h.count) for h in hits] == [("lookup:addr:new", 1), ("lookup:code:recent", 3)]
    assert _counter_keys(session) == 250 + 2
    session.commit()  # SQLite: let the job's transaction take the write lock
    # The scheduler's job removes the ended windows and keeps live ones.
    assert run_rate_counter_purge(make_sessionmaker(engine), settings, clock) == 250
    session.expire_all()
    assert {row.key for row in session.exec(select(RateCounter)).all()} == {"lookup:code:recent", "lookup:addr:new"}
    # An hour-long window stays until it has ended, plus one hour.
    later = ratelimit.window_start(now, 3600) + timedelta(hours=1, minutes=59)
    assert ratelimit.purge_rate_counters(session, later) == 0
    assert ratelimit.purge_rate_counters(session, later + timedelta(minutes=1)) == 2
    session.commit()


def test_concurrent_hits_are_all_counted(engine, settings, clock):
    """Several workers hitting one key at once: the upsert loses no count on either database."""
    from concurrent.futures import ThreadPoolExecutor

    from app.db import make_sessionmaker, transaction

    factory = make_sessionmaker(engine)

    def worker(_: int) -> list[int]:
        counts = []
        for _ in range(5):
            with transaction(factory) as s:
                counts.append(ratelimit.hit(s, "lookup:addr:shared", limit=1000, window_seconds=60,
                                            now=clock.now()).count)
        return counts

    with ThreadPoolExecutor(max_workers=4) as pool:
        counts = [c for batch in pool.map(worker, range(4)) for c in batch]
    assert sorted(counts) == list(range(1, 21))


def test_trusted_proxies_setting(monkeypatch):
    from pydantic import ValidationError

    from app.settings import Settings

    monkeypatch.setenv("MOTCUA_TRUSTED_PROXIES", "10.0.0.1, 172.16.0.0/12")
    assert Settings().trusted_proxies == ["10.0.0.1", "172.16.0.0/12"]
    monkeypatch.setenv("MOTCUA_TRUSTED_PROXIES", '["::1"]')
    assert Settings().trusted_proxies == ["::1"]
    monkeypatch.delenv("MOTCUA_TRUSTED_PROXIES")
    assert Settings().trusted_proxies == []
    with pytest.raises(ValidationError):
        Settings(trusted_proxies=["proxy.example"])
