"""Notification senders (e-mail over SMTP, SMS adapters) and the outbox handler for `notify` rows.

The workflow service writes a `notify` outbox row (payload `to_email`, `to_phone`, `subject`,
`text`) in the same transaction as the change the applicant must hear about; the scheduler's
`notify_dispatch` job hands each row to `notify_handler(senders)`, which sends the e-mail and/or
the SMS. Failures are classified for the outbox engine (`app.outbox`):

* `RetryableError`: the channel may work later (connection refused, timeout, SMTP 4xx);
* `PermanentError`: the message itself cannot be delivered (no address, malformed address,
  SMTP 5xx for the recipient or the content).

Exception texts never carry an address or the message body: they end up in `outbox.last_error`.

A message with two channels whose first channel went out and whose second failed for a
transient reason is *not* retried as a whole (that would send the first channel twice): it is
marked sent and a follow-up row for the missing channel is queued with backoff. The e-mail goes
first because it is the channel that fails in practice.
"""

from __future__ import annotations

import json
import logging
import random
import re
import smtplib
import ssl
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.header import Header
from email.mime.text import MIMEText
from email.utils import formatdate
from pathlib import Path
from typing import Any, Protocol, TextIO

from sqlmodel import Session

from app.models import OutboxMessage
from app.outbox import Handler, PermanentError, RetryableError, backoff_delay
from app.settings import Settings

log = logging.getLogger(__name__)

EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{2,}$")
PHONE_RE = re.compile(r"^(\+84|0)[1-9][0-9]{8,9}$")


class Sender(Protocol):
    """Sends one e-mail. Raises RetryableError or PermanentError on failure."""

    def send(self, *, to: str, subject: str, text: str, message_id: str) -> None: ...


class SmsSender(Protocol):
    """Sends one SMS. Raises RetryableError or PermanentError on failure."""

    def send_sms(self, *, to: str, text: str, message_id: str) -> None: ...


# --- e-mail ------------------------------------------------------------------------------------

class SmtpEmailSender:
    """Plain SMTP with the standard library (optional STARTTLS and login), one connection per message.

    The Message-ID is derived from the outbox row, so a receiving system can drop the rare
    duplicate of a message whose acceptance reply was lost on the wire.
    """

    def __init__(self, host: str, port: int = 25, sender: str = "motcua@localhost", *, username: str | None = None,
                 password: str | None = None, starttls: bool = False, timeout: float = 10.0) -> None:
        self.host, self.port, self.sender = host, port, sender
        self.username, self.password, self.starttls, self.timeout = username, password, starttls, timeout
        self.domain = sender.rpartition("@")[2] or "localhost"

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpEmailSender:
        assert settings.smtp_host, "no SMTP host configured"
        return cls(settings.smtp_host, settings.smtp_port, settings.smtp_sender, username=settings.smtp_username,
                   password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
                   starttls=settings.smtp_starttls, timeout=settings.smtp_timeout_seconds)

    def _message(self, to: str, subject: str, text: str, message_id: str) -> MIMEText:
        # compat32 MIMEText + Header: the modern policy's folding drops the space between two
        # encoded words of a long Vietnamese subject ("trả kết" arrives as "trảkết").
        msg = MIMEText(text, "plain", "utf-8")
        msg["From"] = self.sender
        msg["To"] = to
        msg["Subject"] = Header(subject, "utf-8")
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = f"<{message_id}@{self.domain}>"
        return msg

    def send(self, *, to: str, subject: str, text: str, message_id: str) -> None:
        if not EMAIL_RE.match(to or ""):
            raise PermanentError("địa chỉ e-mail không hợp lệ")
        msg = self._message(to, subject, text, message_id)
        smtp: smtplib.SMTP | None = None
        try:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.username:
                smtp.login(self.username, self.password or "")
            smtp.send_message(msg)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = sorted({code for code, _ in exc.recipients.values()})
            if codes and all(500 <= c < 600 for c in codes):
                raise PermanentError(f"SMTP {codes[0]}: người nhận bị từ chối") from None
            raise RetryableError(f"SMTP {codes[0] if codes else '?'}: người nhận tạm thời bị từ chối") from None
        except smtplib.SMTPResponseException as exc:
            code = exc.smtp_code
            # 5xx on DATA is about this message (content, size): dead-letter it. 5xx on the
            # greeting, HELO, MAIL FROM or login is about our configuration: keep retrying so
            # the queue drains once it is fixed.
            if isinstance(exc, smtplib.SMTPDataError) and 500 <= code < 600:
                raise PermanentError(f"SMTP {code}: máy chủ từ chối nội dung thư") from None
            raise RetryableError(f"SMTP {code}: {type(exc).__name__}") from None
        except (smtplib.SMTPException, OSError) as exc:  # refused, reset, timeout, TLS failure
            raise RetryableError(f"SMTP không kết nối được: {type(exc).__name__}") from None
        finally:
            if smtp is not None:
                # The message is accepted once DATA got its 2xx: a failing QUIT must not turn that
                # into a retry (and a duplicate).
                try:
                    smtp.quit()
                except Exception:  # noqa: BLE001
                    smtp.close()


# --- SMS (development adapters; a gateway adapter implements SmsSender the same way) ------------

def _check_phone(to: str) -> None:
    if not PHONE_RE.match(to or ""):
        raise PermanentError("số điện thoại không hợp lệ")


class FileSmsSender:
    """Appends one JSON line per SMS to `<dir>/sms.jsonl` (development: read it to see what went out)."""

    def __init__(self, directory: str | Path, *, clock: Callable[[], datetime] | None = None) -> None:
        self.path = Path(directory) / "sms.jsonl"
        self._clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()

    def send_sms(self, *, to: str, text: str, message_id: str) -> None:
        _check_phone(to)
        line = json.dumps({"id": message_id, "to": to, "text": text, "at": self._clock().isoformat()},
                          ensure_ascii=False)
        try:
            with self._lock:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("a", encoding="utf-8") as fh:
                    fh.write(line + "\n")
        except OSError as exc:
            raise RetryableError(f"không ghi được tệp SMS: {type(exc).__name__}") from None


class ConsoleSmsSender:
    """Prints each SMS (development only; the number is masked)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream

    def send_sms(self, *, to: str, text: str, message_id: str) -> None:
        _check_phone(to)
        stream = self.stream or sys.stdout
        print(f"[SMS {message_id} → ***{to[-3:]}] {text}", file=stream, flush=True)


# --- test double -------------------------------------------------------------------------------

@dataclass
class Delivery:
    channel: str  # email | sms
    to: str
    subject: str | None
    text: str
    message_id: str


@dataclass
class RecordingSender:
    """In-memory e-mail and SMS sender for tests. `failures` is a queue of exceptions raised by the
    next calls (one per call, either channel) before deliveries succeed; thread-safe."""

    deliveries: list[Delivery] = field(default_factory=list)
    failures: list[Exception] = field(default_factory=list)
    fail_channel: str | None = None  # only calls on this channel consume `failures`
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _record(self, delivery: Delivery) -> None:
        with self._lock:
            if self.failures and self.fail_channel in (None, delivery.channel):
                raise self.failures.pop(0)
            self.deliveries.append(delivery)

    def send(self, *, to: str, subject: str, text: str, message_id: str) -> None:
        self._record(Delivery("email", to, subject, text, message_id))

    def send_sms(self, *, to: str, text: str, message_id: str) -> None:
        self._record(Delivery("sms", to, None, text, message_id))


# --- the outbox handler ------------------------------------------------------------------------

@dataclass
class Senders:
    email: Sender | None = None
    sms: SmsSender | None = None


def senders_from_settings(settings: Settings) -> Senders:
    email = SmtpEmailSender.from_settings(settings) if settings.smtp_host else None
    sms: SmsSender | None
    if settings.sms_backend == "file":
        sms = FileSmsSender(settings.sms_outbox_dir)
    elif settings.sms_backend == "console":
        sms = ConsoleSmsSender()
    else:
        sms = None
    return Senders(email=email, sms=sms)


def notify_handler(senders: Senders, *, now: datetime | None = None, base_delay_seconds: float = 30,
                   max_delay_seconds: float = 3600, rng: random.Random | None = None) -> Handler:
    """The outbox Handler for topic `notify`. `now` dates the follow-up row of a half-sent message."""
    rng = rng or random.Random()

    def handle(session: Session, message: OutboxMessage) -> None:
        payload: dict[str, Any] = dict(message.payload or {})
        subject, text = str(payload.get("subject") or ""), str(payload.get("text") or "")
        if not text:
            raise PermanentError("thông báo không có nội dung")
        wanted = set(payload.get("channels") or ("email", "sms"))
        # A follow-up row keeps the original row's id in its Message-ID: one message, one identity.
        identity = f"motcua.{payload.get('retry_of') or message.id}"
        email, phone = payload.get("to_email"), payload.get("to_phone")
        plan: list[tuple[str, Callable[[], None]]] = []
        if "email" in wanted and email and senders.email is not None:
            sender = senders.email
            plan.append(("email", lambda: sender.send(to=email, subject=subject, text=text,
                                                      message_id=f"{identity}.email")))
        if "sms" in wanted and phone and senders.sms is not None:
            sms = senders.sms
            short = str(payload.get("sms") or text)  # rows queued before the SMS text existed: the e-mail text
            plan.append(("sms", lambda: sms.send_sms(to=phone, text=short, message_id=f"{identity}.sms")))
        if not plan:
            raise PermanentError("không có kênh gửi: thiếu địa chỉ nhận hoặc chưa cấu hình kênh gửi")

        sent: list[str] = []
        transient: dict[str, str] = {}
        permanent: dict[str, str] = {}
        for channel, send in plan:
            try:
                send()
            except PermanentError as exc:
                permanent[channel] = str(exc)
            except RetryableError as exc:
                transient[channel] = str(exc)
            except Exception as exc:  # noqa: BLE001  a bug in an adapter: retry that channel later
                log.exception("notification sender failed", extra={"fields": {"outbox_id": message.id,
                                                                              "channel": channel}})
                transient[channel] = type(exc).__name__
            else:
                sent.append(channel)
        if not sent:  # nothing went out: let the engine retry or dead-letter the row as a whole
            if transient:
                raise RetryableError("; ".join(f"{c}: {e}" for c, e in transient.items()))
            raise PermanentError("; ".join(f"{c}: {e}" for c, e in permanent.items()))

        payload["delivered"] = sent
        if permanent:
            payload["channel_errors"] = permanent
        message.payload = payload
        if transient:
            at = now or message.next_attempt_at
            attempts = message.attempts + 1
            follow_up = {k: v for k, v in payload.items() if k not in ("delivered", "channel_errors")}
            follow_up |= {"channels": sorted(transient), "retry_of": payload.get("retry_of") or message.id}
            session.add(OutboxMessage(
                topic=message.topic, kind=message.kind, dossier_id=message.dossier_id, payload=follow_up,
                status="pending", attempts=attempts, created_at=at,
                last_error="; ".join(f"{c}: {e}" for c, e in transient.items())[:2000],
                next_attempt_at=at + backoff_delay(attempts, base_delay_seconds=base_delay_seconds,
                                                   max_delay_seconds=max_delay_seconds, rng=rng)))
            log.warning("notification half sent; the rest is queued",
                        extra={"fields": {"outbox_id": message.id, "pending_channels": sorted(transient)}})

    return handle
