"""The citizen's download link for a signed result: `/api/v1/public/results/{token}`, where the
token is `{document id}.{expiry, Unix seconds}.{HMAC-SHA256, 128 bits}` in base64url. No secret
of the citizen's is in the URL; the link works until it expires (`result_link_minutes`, default
15) and only while the result may be downloaded (`downloadable`).

Who may download (docs/DOCUMENTS.md): a dossier whose result is returned online, as soon as the
result is ready (resolved); any other return method (desk, postal) once the result has been
returned, as an electronic copy of what the citizen holds on paper.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from app import signed_links
from app.db import transaction
from app.esign.store import RESULT_KINDS, latest_signed, load_signed
from app.errors import NotFound
from app.models import Dossier, DossierStatus, ReturnMethod, SignedDocument
from app.settings import Settings

EXPIRED = "Đường dẫn tải kết quả không hợp lệ hoặc đã hết hạn; vui lòng tra cứu lại để nhận đường dẫn mới."


LABEL = b"motcua result download link v1"


def downloadable(dossier: Dossier) -> bool:
    status = DossierStatus(dossier.status)
    if status == DossierStatus.returned:
        return True
    return status == DossierStatus.resolved and dossier.return_method == ReturnMethod.online


def make_token(document_id: int, *, now: datetime, settings: Settings) -> tuple[str, datetime]:
    return signed_links.sign(LABEL, str(document_id), expires=now + timedelta(minutes=settings.result_link_minutes),
                             settings=settings)


def read_token(token: str, *, now: datetime, settings: Settings) -> int:
    payload = signed_links.verify(LABEL, token, now=now, settings=settings)
    if payload is None or not payload.isdigit():
        raise NotFound(EXPIRED, code="link_expired")
    return int(payload)


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
