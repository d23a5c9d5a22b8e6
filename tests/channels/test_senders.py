"""Notification senders and the notify outbox handler: a local SMTP server that refuses, then
accepts; nothing lost, nothing duplicated; texts in Vietnamese."""

from __future__ import annotations

import email
import email.policy
import io
import json
import random
import socket
import socketserver
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlmodel import select

from app.channels import messages
from app.channels.senders import (ConsoleSmsSender, FileSmsSender, RecordingSender, Senders, SmtpEmailSender,
                                  notify_handler, senders_from_settings)
from app.db import make_sessionmaker, transaction
from app.models import Dossier, OutboxMessage, Procedure
from app.outbox import PermanentError, RetryableError, dispatch_pending
from tests.conftest import VN, make_settings

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=VN)


# --- a tiny SMTP server ------------------------------------------------------------------------

class _Handler(socketserver.StreamRequestHandler):
    timeout = 10

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")
        self.wfile.flush()

    def handle(self) -> None:  # noqa: C901
        server: SmtpServer = self.server  # type: ignore[assignment]
        mode = server.next_mode()
        server.connections += 1
        if mode == "refuse":
            self.reply("421 4.3.2 Service not available, try later")
            return
        self.reply("220 test.local ESMTP")
        lines: list[bytes] = []
        in_data = False
        while True:
            raw = self.rfile.readline()
            if not raw:
                return
            if in_data:
                if raw in (b".\r\n", b".\n"):
                    in_data = False
                    if mode == "reject_data":
                        self.reply("554 5.6.0 Message rejected")
                    else:
                        server.received.append(b"".join(lines))
                        self.reply("250 2.0.0 queued")
                    lines = []
                    continue
                lines.append(raw[1:] if raw.startswith(b"..") else raw)
                continue
            command = raw.strip().upper()
            if command.startswith((b"EHLO", b"HELO")):
                self.reply("250 test.local")
            elif command.startswith(b"MAIL FROM"):
                self.reply("250 2.1.0 ok")
            elif command.startswith(b"RCPT TO"):
                self.reply({"reject_rcpt": "550 5.1.1 No such user", "busy_rcpt": "451 4.3.0 Try again later"}
                           .get(mode, "250 2.1.5 ok"))
            elif command == b"DATA":
                in_data = True
                self.reply("354 End data with <CR><LF>.<CR><LF>")
            elif command == b"QUIT":
                self.reply("221 2.0.0 bye")
                return
            else:
                self.reply("250 ok")


class SmtpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.script: list[str] = []  # modes of the next connections; then "accept"
        self.received: list[bytes] = []
        self.connections = 0
        self._lock = threading.Lock()

    def next_mode(self) -> str:
        with self._lock:
            return self.script.pop(0) if self.script else "accept"

    @property
    def port(self) -> int:
        return self.server_address[1]

    def messages(self) -> list[email.message.EmailMessage]:
        return [email.message_from_bytes(raw, policy=email.policy.default) for raw in self.received]  # type: ignore[misc]


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sender_for(port: int) -> SmtpEmailSender:
    return SmtpEmailSender("127.0.0.1", port, "motcua@sogd.example.vn", timeout=5)


SUBJECT = "Thư xin lỗi và hẹn lại ngày trả kết quả hồ sơ 000.00.17.H26-261123-0001"
TEXT = "Cơ quan xin lỗi vì hồ sơ chưa giải quyết kịp hạn. Ngày hẹn trả mới: 17 giờ 00 ngày 26/11/2026."


# --- the SMTP sender ---------------------------------------------------------------------------

def test_smtp_delivers_vietnamese_mail(smtp):
    sender_for(smtp.port).send(to="an@example.vn", subject=SUBJECT, text=TEXT, message_id="motcua.7.email")
    [msg] = smtp.messages()
    assert msg["Subject"] == SUBJECT and msg["To"] == "an@example.vn"
    assert msg["Message-ID"] == "<motcua.7.email@sogd.example.vn>"
    assert msg.get_content().strip() == TEXT


@pytest.mark.parametrize(("mode", "error"), [
    ("refuse", RetryableError),  # 421 greeting
    ("busy_rcpt", RetryableError),  # 451 for the recipient
    ("reject_rcpt", PermanentError),  # 550 no such user
    ("reject_data", PermanentError),  # 554 content rejected
])
def test_smtp_failures_are_classified(smtp, mode, error):
    smtp.script = [mode]
    with pytest.raises(error) as caught:
        sender_for(smtp.port).send(to="an@example.vn", subject=SUBJECT, text=TEXT, message_id="m")
    assert "an@example.vn" not in str(caught.value)  # no address in outbox.last_error
    assert smtp.received == []


def test_smtp_connection_refused_and_bad_address():
    with pytest.raises(RetryableError):
        sender_for(closed_port()).send(to="an@example.vn", subject="s", text="t", message_id="m")
    with pytest.raises(PermanentError):
        sender_for(closed_port()).send(to="không-phải-email", subject="s", text="t", message_id="m")


# --- SMS adapters ------------------------------------------------------------------------------

def test_file_and_console_sms(tmp_path):
    FileSmsSender(tmp_path / "sms", clock=lambda: NOW).send_sms(to="0912345678", text=TEXT, message_id="motcua.1.sms")
    [line] = (tmp_path / "sms" / "sms.jsonl").read_text(encoding="utf-8").splitlines()
    assert json.loads(line) == {"id": "motcua.1.sms", "to": "0912345678", "text": TEXT, "at": NOW.isoformat()}
    out = io.StringIO()
    ConsoleSmsSender(out).send_sms(to="0912345678", text=TEXT, message_id="motcua.1.sms")
    assert "0912345678" not in out.getvalue() and "***678" in out.getvalue() and TEXT in out.getvalue()
    with pytest.raises(PermanentError):
        ConsoleSmsSender(out).send_sms(to="12", text=TEXT, message_id="x")


def test_senders_from_settings(tmp_path):
    base = make_settings("sqlite://", sms_outbox_dir=str(tmp_path))
    senders = senders_from_settings(base)
    assert senders.email is None and isinstance(senders.sms, FileSmsSender)
    senders = senders_from_settings(base.model_copy(update={"smtp_host": "mail.local", "sms_backend": "none"}))
    assert isinstance(senders.email, SmtpEmailSender) and senders.sms is None


# --- through the outbox ------------------------------------------------------------------------

def enqueue(factory, payload: dict, *, kind: str = "apology_issued") -> int:  # noqa: ANN001
    with transaction(factory) as s:
        row = OutboxMessage(topic="notify", kind=kind, payload=payload, status="pending", next_attempt_at=NOW,
                            created_at=NOW)
        s.add(row)
        s.flush()
        return row.id  # type: ignore[return-value]


def rows(factory) -> list[OutboxMessage]:  # noqa: ANN001
    with factory() as s:
        return list(s.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all())


def dispatch(factory, senders: Senders, now: datetime):  # noqa: ANN001, ANN201
    rng = random.Random(4)
    return dispatch_pending(factory, topic="notify", handler=notify_handler(senders, now=now, rng=rng), now=now,
                            rng=rng, base_delay_seconds=30, max_delay_seconds=3600)


def test_failing_smtp_server_loses_and_duplicates_nothing(engine, settings, smtp):
    factory = make_sessionmaker(engine)
    ids = [enqueue(factory, {"to_email": f"dan{i}@example.vn", "subject": SUBJECT, "text": TEXT}) for i in range(3)]
    senders = Senders(email=sender_for(smtp.port))
    smtp.script = ["refuse"] * 4  # the server is down for the first four connections
    now = NOW
    first = dispatch(factory, senders, now)
    assert (first.sent, first.retried) == (0, 3)
    retry_at = {r.id: r.next_attempt_at for r in rows(factory)}
    assert all(at > now for at in retry_at.values())  # backed off, not hammered
    assert dispatch(factory, senders, now).processed == 0  # not due yet
    rounds = 0
    while any(r.status == "pending" for r in rows(factory)):
        now = min(r.next_attempt_at for r in rows(factory) if r.status == "pending")
        dispatch(factory, senders, now)
        rounds += 1
        assert rounds < 10
    final = rows(factory)
    assert [r.status for r in final] == ["sent"] * 3
    assert sum(r.attempts for r in final) == 4 and smtp.connections == 4 + 3  # each refusal counted once
    received = smtp.messages()
    assert sorted(m["To"] for m in received) == ["dan0@example.vn", "dan1@example.vn", "dan2@example.vn"]
    assert sorted(m["Message-ID"] for m in received) == sorted(f"<motcua.{i}.email@sogd.example.vn>" for i in ids)
    assert dispatch(factory, senders, now + timedelta(days=1)).processed == 0  # nothing sent twice
    assert len(smtp.received) == 3


def test_rejected_recipient_is_dead_lettered(engine, settings, smtp):
    factory = make_sessionmaker(engine)
    enqueue(factory, {"to_email": "nobody@example.vn", "subject": SUBJECT, "text": TEXT})
    smtp.script = ["reject_rcpt"]
    stats = dispatch(factory, Senders(email=sender_for(smtp.port)), NOW)
    [row] = rows(factory)
    assert stats.dead == 1 and row.status == "dead" and "550" in (row.last_error or "")
    assert "nobody@example.vn" not in (row.last_error or "")


def test_half_sent_message_retries_only_the_missing_channel(engine, settings):
    factory = make_sessionmaker(engine)
    sender = RecordingSender(failures=[RetryableError("SMS gateway timeout")], fail_channel="sms")
    senders = Senders(email=sender, sms=sender)
    first_id = enqueue(factory, {"to_email": "an@example.vn", "to_phone": "0912345678", "subject": SUBJECT,
                                 "text": TEXT})
    assert dispatch(factory, senders, NOW).sent == 1
    original, follow_up = rows(factory)
    assert original.status == "sent" and original.payload["delivered"] == ["email"]
    assert follow_up.status == "pending" and follow_up.payload["channels"] == ["sms"]
    assert follow_up.payload["retry_of"] == first_id and follow_up.next_attempt_at > NOW
    assert dispatch(factory, senders, NOW).processed == 0
    assert dispatch(factory, senders, follow_up.next_attempt_at).sent == 1
    assert [(d.channel, d.message_id) for d in sender.deliveries] == [
        ("email", f"motcua.{first_id}.email"), ("sms", f"motcua.{first_id}.sms")]
    assert {r.status for r in rows(factory)} == {"sent"}


def test_undeliverable_messages(engine, settings):
    factory = make_sessionmaker(engine)
    sender = RecordingSender()
    enqueue(factory, {"to_email": None, "to_phone": None, "subject": "s", "text": "t"})  # no address
    enqueue(factory, {"to_email": "an@example.vn", "subject": "s", "text": "t"})  # e-mail, no SMTP configured
    enqueue(factory, {"to_email": "an@example.vn", "to_phone": "0912345678", "subject": "s", "text": ""})
    stats = dispatch(factory, Senders(email=None, sms=sender), NOW)
    assert stats.dead == 3 and sender.deliveries == []


def test_notification_texts_are_vietnamese(engine, settings, demo):
    factory = make_sessionmaker(engine)
    with factory() as s:
        procedure = s.exec(select(Procedure).where(Procedure.code == "1.005092")).one()
    dossier = Dossier(code="000.00.17.H26-261123-0001", agency_id=1, receiving_agency_id=1, procedure_id=1,
                      channel="direct", applicant_name="x", applicant_id_number="x", status="processing",
                      lookup_secret_hash="x", received_at=NOW, due_at=NOW + timedelta(days=2),
                      new_due_at=NOW + timedelta(days=3), returned_at=NOW)
    expected = {"received": "Đã tiếp nhận", "supplement_requested": "bổ sung", "result_ready": "đã có kết quả",
                "apology_issued": "xin lỗi", "returned": "đã được trả"}
    for kind, words in expected.items():
        subject, text = messages.render(kind, dossier, procedure, extra="Cần xác minh")
        assert words in subject + " " + text and dossier.code in subject
    subject, text = messages.render("apology_issued", dossier, procedure, extra="Cần xác minh")
    assert "Ngày hẹn trả mới: 09 giờ 00 ngày 26/11/2026" in text and "Lý do: Cần xác minh" in text
    assert "hồ sơ quá hạn" in messages.digest(agency_name="Sở", day=NOW, overdue=2, due_soon=1, apology_drafts=0)[1]


# --- SMS: the agency, two UCS-2 segments, natural Vietnamese (issue 16, item 7) ---------------------

LONG_AGENCY = "Trung tâm Phục vụ hành chính công tỉnh Bà Rịa - Vũng Tàu (cơ sở 2, phường Phước Trung)"
LONG_TEXT = "Bản sao giấy khai sinh có chứng thực; Ảnh 3x4 chụp trong 6 tháng; Bản sao học bạ có xác nhận của trường"


@pytest.mark.parametrize("short_name", [None, "TTPVHCC"])
@pytest.mark.parametrize("kind", messages.SMS_KINDS)
def test_every_sms_names_the_agency_and_fits_two_ucs2_segments(kind, short_name):
    dossier = Dossier(code="000.00.01.H26-261123-0123", due_at=NOW + timedelta(days=7),
                      new_due_at=NOW + timedelta(days=9), returned_at=NOW)
    extra = {"submitted": "K7QM4-XPT2B", "payment_requested": "1.250.000 đồng"}.get(kind, LONG_TEXT)
    for agency in ("Sở Giáo dục và Đào tạo (đơn vị mẫu)", LONG_AGENCY):
        text = messages.sms_text(kind, dossier, agency_name=agency, agency_short_name=short_name, extra=extra)
        assert messages.sms_units(text) <= 2 * 67, text  # Vietnamese needs UCS-2: 67 units a segment
        assert dossier.code in text and "_" not in text and "{" not in text
        named = text.split(":")[0].split(" xin lỗi")[0].rstrip("…")
        assert named and (agency.startswith(named) or named == short_name), text
        if kind == "submitted":
            assert "Mã tra cứu K7QM4-XPT2B" in text  # the secret is never cut
        if kind == "payment_requested":
            assert "1.250.000 đồng" in text
        if agency != LONG_AGENCY:
            assert text.startswith(agency)  # the demo Department's name fits whole
    assert messages.sms_units("Sở") == 2 and messages.sms_units("😀") == 2  # UTF-16 units, not characters


def test_the_notification_sent_by_sms_is_the_short_text_and_the_email_is_signed(client, login, app):
    from tests.workflows.test_clock_rules import outbox_of
    from tests.workflows.test_scenarios import receive

    dossier = receive(client, login)
    notice = outbox_of(app, dossier["code"], "notify")[0].payload
    assert notice["sms"] == (f"Sở Giáo dục và Đào tạo (đơn vị mẫu): đã tiếp nhận hồ sơ {dossier['code']}. "
                             "Hẹn trả kết quả 09:00 ngày 01/12/2026.")
    assert notice["text"].endswith("\n\nSở Giáo dục và Đào tạo (đơn vị mẫu)") and "mã tra cứu" in notice["text"]
    sender = RecordingSender()
    handler = notify_handler(Senders(email=sender, sms=sender), now=NOW)
    with app.state.sessionmaker() as session:
        handler(session, OutboxMessage(id=1, topic="notify", kind="received", payload=notice, dossier_id=1))
    by_channel = {d.channel: d.text for d in sender.deliveries}
    assert by_channel == {"sms": notice["sms"], "email": notice["text"]}
