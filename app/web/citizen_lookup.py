"""The citizen's lookup (tra cứu hồ sơ): what opens the public view (`citizen_view`) of a dossier.

`lookup()` is the whole public lookup: rate limits (their own short transactions, so a rejected
or failed lookup still counts), the secret check (a dummy secret is verified when the code is
unknown, so both failures cost the same and answer the same 404), and the public view. It takes
a sessionmaker rather than a session because it needs several independent transactions.
No FastAPI import.
"""

from __future__ import annotations

import logging
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import exists, func
from sqlalchemy.orm import aliased, sessionmaker
from sqlmodel import Session, select

from app.db import transaction
from app.errors import DomainError, NotFound, RateLimited
from app.esign.store import RESULT_KINDS
from app.feedback.models import Feedback, SatisfactionRating
from app.metrics import LOOKUPS_REFUSED
from app.models import Agency, Dossier, Procedure, Shipment, SignedDocument
from app.payments.models import PaymentRequest
from app.settings import Settings
from app.web import ratelimit
from app.web.citizen_view import PublicDossierOut, present
from app.workflows import codes

log = logging.getLogger("motcua.public")

LOOKUP_FAILED_MESSAGE = ("Không tìm thấy hồ sơ với mã hồ sơ và mã tra cứu đã nhập. Vui lòng kiểm tra lại "
                         "hai mã in trên Giấy tiếp nhận hồ sơ và hẹn trả kết quả.")

# Verified when the code is unknown, so an unknown code costs the same as a wrong secret.
_DUMMY_SECRET_HASH = codes.hash_secret("ZZZZ-ZZZZ")


class LookupFailed(NotFound):
    code = "lookup_failed"
    message = LOOKUP_FAILED_MESSAGE


class SecretInUrl(DomainError):
    status_code = 400
    code = "secret_in_url"
    message = "Không gửi mã tra cứu trên địa chỉ (URL); vui lòng nhập mã vào biểu mẫu tra cứu."

    NAMES = frozenset({"secret", "lookup_secret", "ma_tra_cuu"})


class LookupIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    code: str = Field(min_length=1, max_length=64, description="Mã hồ sơ, ví dụ 000.00.17.H26-261123-0001")
    secret: str = Field(title="Mã tra cứu", min_length=1, max_length=32, description="Mã tra cứu in trên giấy hẹn, ví dụ K7QM4-XPT2B")


def normalize_code(code: str) -> str:
    return "".join(code.split()).upper()


def wait_text(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} giây"
    return f"{(seconds + 59) // 60} phút"


def find(session: Session, *, code: str, secret: str, now: datetime, settings: Settings) -> PublicDossierOut | None:
    """The public view when `secret` opens dossier `code`; None otherwise (same cost either way)."""
    # The procedure, agency and handling division come in the same round trip; `present` then
    # finds them in the session.
    division = aliased(Agency)
    # Whether the dossier owes or paid fees, has feedback, a rating, a package or a signed result
    # comes in the same round trip too (most have none of them: their reads are skipped).
    has_payments = exists().where(PaymentRequest.dossier_id == Dossier.id).label("has_payments")
    has_feedback = exists().where(Feedback.dossier_id == Dossier.id).label("has_feedback")
    rated = exists().where(SatisfactionRating.dossier_id == Dossier.id).label("rated")
    has_shipments = exists().where(Shipment.dossier_id == Dossier.id).label("has_shipments")
    has_signed = exists().where(SignedDocument.dossier_id == Dossier.id,
                                SignedDocument.kind.in_(RESULT_KINDS)).label("has_signed_result")  # type: ignore[attr-defined]
    columns = [Dossier, Procedure, Agency, division, has_payments, has_feedback, rated, has_shipments, has_signed]
    if session.get_bind().dialect.name == "postgresql":
        # The lookup's transaction writes nothing but rate counters: its commit need not wait for the
        # WAL flush (a crash may forget the last fraction of a second of counts, never a dossier's
        # data). Set for this transaction only, in this same round trip.
        columns.append(func.set_config("synchronous_commit", "off", True))
    row = session.exec(select(*columns)
                       .join(Procedure, Procedure.id == Dossier.procedure_id)
                       .join(Agency, Agency.id == Dossier.agency_id)
                       .outerjoin(division, division.id == Dossier.assigned_division_id)
                       .where(Dossier.code == normalize_code(code))).first()
    dossier = row[0] if row else None
    opened = codes.verify_secret(secret, dossier.lookup_secret_hash if dossier else _DUMMY_SECRET_HASH)
    if dossier is None or not opened:
        return None
    return present(session, dossier, now=now, settings=settings, has_payments=bool(row[4]),
                   has_feedback=bool(row[5]), rated=bool(row[6]), has_shipments=bool(row[7]),
                   has_signed_result=bool(row[8]))


def lookup(factory: sessionmaker[Session], *, code: str, secret: str, client: str, now: datetime,
           settings: Settings) -> PublicDossierOut:
    """Rate-limited lookup: `RateLimited` (429, Retry-After) or `LookupFailed` (404) or the view.

    Limits (docs/SECURITY.md), none of which a stranger can use against the holder of the secret:
    * per address, every lookup (and every one refused by validation, `count_rejected`);
    * per address and code, the failures: after `lookup_failures_per_address_code_per_hour` wrong
      secrets on a code, that address gets 429 for it, the right secret included, so guesses
      beyond the limit learn nothing;
    * per code, the failures from all addresses: counted and logged (an attack on a code), never
      refusing anyone: the right secret always opens its dossier from an address that has not
      exhausted its own limits. The secret's entropy (codes.SECRET_BITS) is what stops guessing
      spread over many addresses.
    """
    code = normalize_code(code)
    client_hash = ratelimit.fingerprint("addr", client, settings)
    code_hash = ratelimit.fingerprint("code", code, settings)
    # One transaction, committed whatever the outcome (a refused or failed lookup stays counted).
    # The read comes first and the counting last, in one statement: the counter rows, which every
    # lookup from one address shares, are then locked only for the commit. Nothing read is shown
    # when a limit is exceeded.
    with transaction(factory) as session:
        view = find(session, code=code, secret=secret, now=now, settings=settings)
        failed = view is None
        allowed = settings.lookup_failures_per_address_code_per_hour
        counters: list[tuple[str, int, int, int]] = [
            (_address_key(client_hash), settings.lookup_rate_per_minute, ratelimit.MINUTE, 1),
            # A success reads its address's failures on the code without counting (increment 0).
            (f"lookup:addrcode:{client_hash}:{code_hash}", allowed, ratelimit.HOUR, 1 if failed else 0)]
        if failed:
            counters.append((f"lookup:fail:{code_hash}", settings.lookup_rate_per_code_per_hour, ratelimit.HOUR, 1))
        by_address, by_address_code, *code_wide = ratelimit.hit_all(session, counters, now=now)
    # The failure being answered may be the last one allowed; a success is refused once the
    # address has used up its failures on the code.
    address_code_exceeded = by_address_code.count > allowed if failed else by_address_code.count >= allowed
    if by_address.exceeded or address_code_exceeded:
        blocked, scope = (by_address, "address") if by_address.exceeded else (by_address_code, "address_code")
        _refuse(blocked, scope, client_hash)
    if failed:
        failures = code_wide[0]
        log.warning("public lookup failed", extra={"fields": {
            "client": client_hash, "code_hash": code_hash, "failures_for_code_this_hour": failures.count}})
        if failures.count == failures.limit + 1:  # once per hour and code
            log.warning("public lookup: many failures on one code", extra={"fields": {
                "code_hash": code_hash, "failures_for_code_this_hour": failures.count}})
        raise LookupFailed()
    assert view is not None
    return view


def count_rejected(factory: sessionmaker[Session], *, client: str, now: datetime, settings: Settings) -> None:
    """Count a lookup refused by validation (422) against its address's limit: `RateLimited` when
    that limit is exceeded, so malformed requests are no free way around it."""
    client_hash = ratelimit.fingerprint("addr", client, settings)
    with transaction(factory) as session:
        hit = ratelimit.hit(session, _address_key(client_hash), limit=settings.lookup_rate_per_minute,
                            window_seconds=ratelimit.MINUTE, now=now)
    if hit.exceeded:
        _refuse(hit, "address", client_hash)


def _address_key(client_hash: str) -> str:
    return f"lookup:addr:{client_hash}"


def _refuse(blocked: ratelimit.Hit, scope: str, client_hash: str) -> None:
    LOOKUPS_REFUSED.labels(scope).inc()
    log.warning("public lookup rate limited", extra={"fields": {
        "client": client_hash, "scope": scope, "count": blocked.count, "retry_after": blocked.retry_after}})
    raise RateLimited(f"Ông/bà đã tra cứu quá nhiều lần. Vui lòng thử lại sau {wait_text(blocked.retry_after)}.",
                      detail={"retry_after": blocked.retry_after, "scope": scope},
                      headers={"Retry-After": str(blocked.retry_after)})


def failed_attempts(session: Session, code: str, *, now: datetime, settings: Settings) -> int:
    """Failed lookups of `code` in the current hour (for monitoring and tests)."""
    key = f"lookup:fail:{ratelimit.fingerprint('code', normalize_code(code), settings)}"
    return ratelimit.peek(session, key, window_seconds=ratelimit.HOUR, now=now)
