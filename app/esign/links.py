"""The citizen's download link for a signed result: `/api/v1/public/results/{token}`, where the
token is `{document id}.{expiry, Unix seconds}.{HMAC-SHA256, 128 bits}` in base64url. No secret
of the citizen's is in the URL; the link works until it expires (`result_link_minutes`, default
15) and only while the result may be downloaded (`downloadable`).

Who may download (docs/DOCUMENTS.md): a dossier whose result is returned online, as soon as the
result is ready (resolved); any other return method (desk, postal) once the result has been
returned, as an electronic copy of what the citizen holds on paper.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from app.db import transaction
from app.esign.store import RESULT_KINDS, latest_signed, load_signed
from app.errors import NotFound
from app.models import Dossier, DossierStatus, ReturnMethod, SignedDocument
from app.settings import Settings

EXPIRED = "Đường dẫn tải kết quả không hợp lệ hoặc đã hết hạn; vui lòng tra cứu lại để nhận đường dẫn mới."


def _key(settings: Settings) -> bytes:
    secret = (settings.data_key or settings.jwt_secret).get_secret_value()
    return hmac.new(secret.encode(), b"motcua result download link v1", hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def downloadable(dossier: Dossier) -> bool:
    status = DossierStatus(dossier.status)
    if status == DossierStatus.returned:
        return True
    return status == DossierStatus.resolved and dossier.return_method == ReturnMethod.online


def make_token(document_id: int, *, now: datetime, settings: Settings) -> tuple[str, datetime]:
    expires = int((now + timedelta(minutes=settings.result_link_minutes)).timestamp())
    payload = f"{document_id}.{expires}"
    mac = hmac.new(_key(settings), payload.encode(), hashlib.sha256).digest()[:16]
    return f"{payload}.{_b64(mac)}", datetime.fromtimestamp(expires, UTC)


def read_token(token: str, *, now: datetime, settings: Settings) -> int:
    try:
        document, expires, mac = token.split(".")
        payload = f"{int(document)}.{int(expires)}"
        expected = hmac.new(_key(settings), payload.encode(), hashlib.sha256).digest()[:16]
        good = hmac.compare_digest(expected, _unb64(mac))
    except (ValueError, TypeError):
        good = False
    if not good or int(expires) < now.timestamp():
        raise NotFound(EXPIRED, code="link_expired")
    return int(document)


def result_for(session: Session, dossier: Dossier) -> SignedDocument | None:
    """The signed result the citizen may download now, if any."""
    if not downloadable(dossier):
        return None
    return latest_signed(session, dossier.id, RESULT_KINDS)  # type: ignore[arg-type]


def open_result(factory: sessionmaker[Session], token: str, *, now: datetime, settings: Settings) -> tuple[str, bytes]:
    document_id = read_token(token, now=now, settings=settings)
    with transaction(factory) as session:
        row = session.get(SignedDocument, document_id)
        dossier = session.get(Dossier, row.dossier_id) if row is not None else None
        if row is None or dossier is None or row.kind not in RESULT_KINDS or not downloadable(dossier):
            raise NotFound(EXPIRED, code="link_expired")
        content = load_signed(session, settings, document_id)
        assert content is not None
        return row.file_name, content
