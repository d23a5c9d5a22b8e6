"""Inbound: pull the dossiers citizens submitted online on the portal and create them here.

`pull_submissions` reads the portal's opaque cursor from `SystemState["portal_cursor"]`, asks the
portal for the next page, turns each submission into `OnlineSubmissionIn` and calls
`app.workflows.intake.submit_online` (idempotent on the portal's id), then saves the new cursor
in the same transaction as the dossiers it created.

The HTTP call happens before the writing transaction (on SQLite any transaction holds the whole
database's write lock). The writing transaction takes the advisory lock
`motcua.portal_pull.apply` (the scheduler job already holds `motcua.portal_pull` around the whole
call, from another session) and checks that the cursor is still the one the page was asked with,
so two pullers never apply the same page twice; a lost race just drops the page.

Files (`TepDinhKem`, issue 13): each attachment's bytes are downloaded through the adapter
(`GET /submissions/files/{MaTep}`, streamed to a spooled temporary file) before the writing
transaction, hashed, compared with the SHA-256 the portal lists, checked like a desk upload (type by
content, size) and stored (app/storage). In the transaction that creates the dossier, each one
becomes a file of its component (matched by name, else "other"; source `portal`) or, when refused
(hash mismatch, missing, too large, refused type), a `file_refused` event with the reason: never a
silent drop. A portal that cannot be reached while downloading leaves the cursor (the page is
pulled again on the next tick).

A submission we cannot accept (unknown procedure, procedure not offered online, wrong agency,
malformed applicant data) is skipped without blocking the others, never silently: it is logged
without personal data, recorded as `SystemState["portal_skip:<portal id>"]` = JSON {portal_id,
code, reason, MaTTHC, DonViXuLy, at, answer_outbox_id}, and answered to the portal as not received
(TrangThaiHoSo 3, `LyDoKhongTiepNhan` = the reason) through the outbox (kind `not_received`), once.
`skipped_submissions()` lists them; the desk reads them at `GET /api/v1/portal/submissions/refused`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select

from app.db import transaction, try_advisory_xact_lock
from app.documents import service as files
from app.effects import Context
from app.errors import DomainError, Unavailable
from app.models import ApplicantType, DossierStatus, OnlineLevel, OutboxMessage, Procedure, ReturnMethod, SystemState
from app.portal import sync as portal_sync
from app.portal.client import PortalClient, PortalRejected
from app.portal.mapping import portal_time
from app.portal.sync import open_client
from app.settings import Settings
from app.statuses import PORTAL_STATUS
from app.storage import Storage, StoredObject, get_storage
from app.workflows import intake
from app.workflows.schemas import OnlineSubmissionIn

log = logging.getLogger(__name__)
PORTAL_NOT_RECEIVED = PORTAL_STATUS[DossierStatus.refused]  # 3: "Không được tiếp nhận"

CURSOR_KEY = "portal_cursor"
SKIP_PREFIX = "portal_skip:"
LOCK_NAME = "motcua.portal_pull.apply"  # not "motcua.portal_pull": the scheduler job holds that one around this call
MAX_PAGES = 20  # per call; the scheduler calls again on its next tick

LEVELS = {"toan_trinh": OnlineLevel.full, "mot_phan": OnlineLevel.partial}
RETURN_METHODS = {0: ReturnMethod.desk, 1: ReturnMethod.postal, 2: ReturnMethod.online}
_DATE_FORMAT = "%Y%m%d%H%M%S"
KINDS = ("original_scan", "copy", "electronic_original")


class SubmissionRejected(Exception):
    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def to_online_submission(raw: dict[str, Any], *, now: datetime, timezone: str) -> OnlineSubmissionIn:
    """Map one portal submission to our intake schema; `SubmissionRejected` when it cannot be read."""
    portal_id = raw.get("portal_id")
    if not isinstance(portal_id, str) or not portal_id.strip():
        raise SubmissionRejected("missing_portal_id", "Hồ sơ từ Cổng không có mã (portal_id).")
    submitted_at = now
    if raw.get("NgayNopHoSo"):
        try:
            submitted_at = datetime.strptime(str(raw["NgayNopHoSo"]), _DATE_FORMAT).replace(tzinfo=ZoneInfo(timezone))
        except ValueError:
            raise SubmissionRejected("invalid_submission", "Trường NgayNopHoSo sai định dạng yyyyMMddHHmmss.") from None
    level_code = raw.get("MucDo") or "toan_trinh"
    level = LEVELS.get(level_code) if isinstance(level_code, str) else None
    if level is None:
        raise SubmissionRejected("invalid_submission", "Trường MucDo phải là toan_trinh hoặc mot_phan.")
    method_code = raw.get("HinhThucNhanKetQua") or 0
    method = RETURN_METHODS.get(method_code) if isinstance(method_code, int) else None
    if method is None:
        raise SubmissionRejected("invalid_submission", "Trường HinhThucNhanKetQua phải là 0, 1 hoặc 2.")
    papers = raw.get("GiayTo") or []
    if not isinstance(papers, list):
        raise SubmissionRejected("invalid_submission", "Trường GiayTo phải là một danh sách.")
    try:
        return OnlineSubmissionIn(
            portal_id=portal_id.strip(), procedure_code=raw.get("MaTTHC"), agency_code=raw.get("DonViXuLy"),
            applicant={
                "type": ApplicantType.organization if raw.get("LoaiDoiTuong") == 2 else ApplicantType.individual,
                "full_name": raw.get("ChuHoSo"), "id_number": raw.get("SoGiayToChuHoSo"),
                "phone": raw.get("SoDienThoai") or None, "email": raw.get("Email") or None,
                "address": raw.get("DiaChi") or None,
            },
            summary=raw.get("TrichYeuHoSo") or None, submitted_at=submitted_at, online_level=level,
            return_method=method,
            documents=[{"name": p.get("TenGiayTo"), "count": p.get("SoLuong", 1)}
                       for p in papers if isinstance(p, dict)],
        )
    except ValidationError as exc:
        # Field paths only: pydantic's messages quote the offending (personal) values.
        fields = sorted({".".join(str(part) for part in err["loc"]) for err in exc.errors()})
        raise SubmissionRejected("invalid_submission", "Dữ liệu không hợp lệ ở trường: " + ", ".join(fields)) from None


def _skip_key(portal_id: str) -> str:
    key = SKIP_PREFIX + portal_id
    if len(key) <= 64:
        return key
    return SKIP_PREFIX + hashlib.sha256(portal_id.encode()).hexdigest()[:64 - len(SKIP_PREFIX)]


def _record_skip(session: Session, raw: dict[str, Any], code: str, reason: str, now: datetime) -> None:
    """Record a submission we cannot receive and, the first time, answer it to the portal as not
    received (TrangThaiHoSo 3) with the reason, through the outbox (retried until the portal has it)."""
    portal_id = str(raw.get("portal_id") or "?")
    key = _skip_key(portal_id)
    row = session.get(SystemState, key)
    answer_id = json.loads(row.value).get("answer_outbox_id") if row is not None else None
    if answer_id is None and raw.get("portal_id"):
        answer = OutboxMessage(topic=portal_sync.TOPIC, kind=portal_sync.NOT_RECEIVED, dossier_id=None,
                               payload={"data": [{"portal_id": portal_id[:64], "TrangThaiHoSo": PORTAL_NOT_RECEIVED,
                                                  "LyDoKhongTiepNhan": reason[:500],
                                                  "NgayTuChoi": portal_time(now)}]},
                               status="pending", next_attempt_at=now, created_at=now)
        session.add(answer)
        session.flush()
        answer_id = answer.id
    value = json.dumps({"portal_id": portal_id[:64], "code": code, "reason": reason[:500],
                        "MaTTHC": str(raw.get("MaTTHC") or "")[:32], "DonViXuLy": str(raw.get("DonViXuLy") or "")[:64],
                        "at": now.isoformat(), "answer_outbox_id": answer_id}, ensure_ascii=False)
    if row is None:
        session.add(SystemState(key=key, value=value[:1000], updated_at=now))
    else:
        row.value, row.updated_at = value[:1000], now
        session.add(row)
    log.warning("portal submission skipped", extra={"fields": {"portal_id": portal_id[:64], "code": code}})


def skipped_submissions(session: Session) -> list[dict[str, Any]]:
    """The portal submissions that were skipped, most recent first, each with `answer_status`: the
    state of its "not received" answer to the portal (pending, sent, dead; None: not answerable)."""
    rows = session.exec(select(SystemState).where(SystemState.key.startswith(SKIP_PREFIX, autoescape=True))  # type: ignore[attr-defined]
                        .order_by(SystemState.updated_at.desc())).all()  # type: ignore[attr-defined]
    records = [json.loads(row.value) for row in rows]
    ids = {r["answer_outbox_id"] for r in records if r.get("answer_outbox_id")}
    states = dict(session.exec(select(OutboxMessage.id, OutboxMessage.status).where(
        OutboxMessage.id.in_(ids))).all()) if ids else {}  # type: ignore[union-attr]
    for record in records:
        record["answer_status"] = states.get(record.get("answer_outbox_id"))
    return records


def read_cursor(session: Session) -> str | None:
    row = session.get(SystemState, CURSOR_KEY)
    return row.value if row else None


def _save_cursor(session: Session, cursor: str | None, now: datetime) -> None:
    if cursor is None:
        return
    row = session.get(SystemState, CURSOR_KEY)
    if row is None:
        session.add(SystemState(key=CURSOR_KEY, value=cursor, updated_at=now))
    else:
        row.value, row.updated_at = cursor, now
        session.add(row)


@dataclass
class FetchedFile:
    """One attachment of a submission, downloaded and stored, or refused with its reason."""

    name: str
    component: str | None  # TenGiayTo as the portal sent it
    kind: str
    stored: StoredObject | None = None
    content_type: str | None = None
    refusal: dict[str, Any] | None = None  # {"reason": ..., "code": ..., ...}


def _fetch_files(portal: PortalClient, items: list[Any], settings: Settings,
                 storage: Storage) -> dict[str, list[FetchedFile]]:
    """Download, verify and store every attachment of the page (outside any transaction)."""
    fetched: dict[str, list[FetchedFile]] = {}
    for raw in items:
        if not isinstance(raw, dict) or not isinstance(raw.get("TepDinhKem"), list):
            continue
        out = fetched.setdefault(str(raw.get("portal_id")), [])
        for meta in raw["TepDinhKem"]:
            if not isinstance(meta, dict):
                continue
            kind = meta.get("LoaiTep") if meta.get("LoaiTep") in KINDS else "copy"
            item = FetchedFile(name=str(meta.get("TenTep") or "tep")[:255], kind=kind,
                               component=meta.get("TenGiayTo") if isinstance(meta.get("TenGiayTo"), str) else None)
            out.append(item)
            declared = str(meta.get("SHA256") or "").lower()
            with tempfile.SpooledTemporaryFile(max_size=1024 * 1024) as sink:
                try:
                    size = portal.download_submission_file(str(meta.get("MaTep") or ""), sink,
                                                           max_bytes=settings.max_file_bytes)
                except PortalRejected as exc:
                    item.refusal = {"code": "download_refused", "reason": "Cổng không trả được tệp "
                                    f"(HTTP {exc.status_code})."}
                    continue
                sink.seek(0)
                digest = hashlib.sha256()
                while chunk := sink.read(1024 * 1024):
                    digest.update(chunk)
                actual = digest.hexdigest()
                if actual != declared:
                    item.refusal = {"code": "hash_mismatch", "expected_sha256": declared[:64], "actual_sha256": actual,
                                    "reason": "Mã băm SHA-256 của tệp tải về không khớp mã băm Cổng công bố."}
                    continue
                try:
                    item.stored, item.content_type = files.store_upload(storage, sink, size, settings=settings,
                                                                        dossier_total=0)
                except Unavailable:
                    raise  # our storage is down: the page is pulled again, nothing refused
                except DomainError as exc:
                    item.refusal = {"code": exc.code, "reason": exc.message}
    return fetched


def _attach(session: Session, dossier: Any, fetched: list[FetchedFile], ctx: Context) -> None:
    procedure = session.get(Procedure, dossier.procedure_id)
    assert procedure is not None
    total = 0
    for item in fetched:
        if item.stored is not None and total + item.stored.size > ctx.settings.max_dossier_bytes:
            item.refusal, item.stored = {"code": "dossier_files_too_large",
                                         "reason": "Tổng dung lượng tệp của hồ sơ vượt quá giới hạn."}, None
        if item.refusal is not None or item.stored is None:
            refusal = item.refusal or {"code": "not_stored", "reason": "Tệp không lưu được."}
            files.refuse_file(session, dossier, ctx, filename=item.name, reason=refusal["reason"],
                              detail={k: v for k, v in refusal.items() if k != "reason"})
            continue
        total += item.stored.size
        try:
            component = files.resolve_component(procedure, item.component or files.OTHER)
        except DomainError:
            component = files.resolve_component(procedure, files.OTHER)
        files.add_file(session, dossier, ctx, component=component, kind=item.kind, stored=item.stored,
                       content_type=item.content_type or "application/octet-stream", filename=item.name,
                       source="portal")


def _apply_page(session: Session, items: list[dict[str, Any]], settings: Settings, now: datetime,
                fetched: dict[str, list[FetchedFile]] | None = None) -> int:
    ctx = Context(None, now, settings)
    fetched = fetched or {}
    created = 0
    for raw in items:
        if not isinstance(raw, dict):
            log.warning("portal submission skipped: not an object")
            continue
        try:
            with session.begin_nested():  # one bad submission never undoes the others
                data = to_online_submission(raw, now=now, timezone=settings.timezone)
                dossier, secret = intake.submit_online(session, data, ctx)
                if secret is not None and fetched.get(data.portal_id):  # new here: its files come with it
                    _attach(session, dossier, fetched[data.portal_id], ctx)
        except SubmissionRejected as exc:
            _record_skip(session, raw, exc.code, exc.reason, now)
            continue
        except DomainError as exc:
            _record_skip(session, raw, exc.code, exc.message, now)
            continue
        if secret is not None:
            created += 1
    return created


def pull_submissions(sessionmaker: sessionmaker[Session], settings: Settings, now: datetime,
                     client: PortalClient | None = None, *, max_pages: int = MAX_PAGES,
                     storage: Storage | None = None) -> int:
    """Pull new online submissions from the portal; returns how many dossiers were created."""
    created = 0
    storage = storage or get_storage(settings)
    with open_client(settings, client) as portal:
        for _ in range(max_pages):
            with sessionmaker() as session:
                cursor = read_cursor(session)
                session.rollback()
            items, next_cursor = portal.pull_submissions(cursor, limit=settings.portal_pull_batch)
            fetched = _fetch_files(portal, items, settings, storage)
            with transaction(sessionmaker) as session:
                if not try_advisory_xact_lock(session, LOCK_NAME):
                    log.info("portal pull: another scheduler holds the lock")
                    return created
                if read_cursor(session) != cursor:
                    log.info("portal pull: cursor moved meanwhile; page dropped")
                    return created
                created += _apply_page(session, items, settings, now, fetched)
                _save_cursor(session, next_cursor, now)
            if not items or next_cursor == cursor:
                break
    if created:
        log.info("portal pull: dossiers created", extra={"fields": {"created": created}})
    return created
