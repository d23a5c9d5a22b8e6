"""`Idempotency-Key` for POSTs that create or act: same key and body → the same response, once.

The key row is inserted in the request's own transaction before the work is done, so a
concurrent duplicate waits on the unique index (PostgreSQL) or on the write lock (SQLite) and
then replays the stored response instead of doing the work twice.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from app.errors import Invalid
from app.models import IdempotencyRecord


def fingerprint(method: str, path: str, body: Any) -> str:
    canonical = json.dumps(jsonable_encoder(body), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()


def _replay(record: IdempotencyRecord, request_hash: str) -> JSONResponse:
    if record.request_hash != request_hash:
        raise Invalid("Idempotency-Key này đã dùng cho một yêu cầu khác.", code="idempotency_key_reused")
    return JSONResponse(record.response_body, status_code=record.status_code, headers={"Idempotent-Replayed": "true"})


def run_idempotent(session: Session, *, scope: str, key: str | None, request_hash: str, now,  # noqa: ANN001
                   status_code: int, work: Callable[[], BaseModel]) -> JSONResponse:
    if key is None:
        return JSONResponse(jsonable_encoder(work()), status_code=status_code)
    if not 1 <= len(key) <= 128:
        raise Invalid("Idempotency-Key dài từ 1 đến 128 ký tự.", code="invalid_idempotency_key")
    query = select(IdempotencyRecord).where(IdempotencyRecord.scope == scope, IdempotencyRecord.key == key)
    if (existing := session.exec(query).first()) is not None:
        return _replay(existing, request_hash)
    record = IdempotencyRecord(scope=scope, key=key, request_hash=request_hash, status_code=0, response_body={},
                               created_at=now)
    session.add(record)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()  # a concurrent twin committed first: answer what it answered
        return _replay(session.exec(query).one(), request_hash)
    body = jsonable_encoder(work())
    record.status_code, record.response_body = status_code, body
    session.add(record)
    return JSONResponse(body, status_code=status_code)
