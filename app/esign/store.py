"""Where the signed PDFs live: two functions, so the storage package can take over at merge.

Today the bytes sit in `signed_documents.content`; with app/storage (content-addressed by
SHA-256) `save_signed` becomes `put(stream)` + the row without `content`, and `load_signed`
becomes `open(row.sha256)`. Nothing else reads or writes the bytes.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlmodel import Session, select

from app.models import SignedDocument

# kind -> what the document is (the signature's reason and the verify page say it)
KINDS = {"result": "Kết quả giải quyết hồ sơ", "result_refusal": "Văn bản trả lời không giải quyết hồ sơ",
         "refusal": "Phiếu từ chối tiếp nhận giải quyết hồ sơ (Mẫu số 03)",
         "apology": "Văn bản xin lỗi và hẹn lại ngày trả kết quả (Mẫu số 04)",
         "stop": "Thông báo dừng giải quyết hồ sơ (Mẫu số 05)"}
RESULT_KINDS = ("result", "result_refusal")  # what the citizen downloads and Decision 766 counts


def save_signed(session: Session, *, dossier_id: int, kind: str, file_name: str, content: bytes,
                signer_name: str, signer_title: str, signed_by_id: int | None, signed_at: datetime) -> SignedDocument:
    assert kind in KINDS, kind
    row = SignedDocument(dossier_id=dossier_id, kind=kind, file_name=file_name,
                         sha256=hashlib.sha256(content).hexdigest(), size=len(content), signer_name=signer_name,
                         signer_title=signer_title, signed_by_id=signed_by_id, signed_at=signed_at, content=content)
    session.add(row)
    session.flush()
    return row


def latest_signed(session: Session, dossier_id: int, kinds: tuple[str, ...]) -> SignedDocument | None:
    """The newest signed document of these kinds (a result signed again after a send-back wins)."""
    return session.exec(select(SignedDocument).where(SignedDocument.dossier_id == dossier_id,
                                                     SignedDocument.kind.in_(kinds))  # type: ignore[attr-defined]
                        .order_by(SignedDocument.id.desc())).first()  # type: ignore[union-attr]


def signed_of(session: Session, dossier_id: int) -> list[SignedDocument]:
    """Every signed document of a dossier, oldest first (the bytes are not read until asked)."""
    from sqlalchemy.orm import defer
    return list(session.exec(select(SignedDocument).where(SignedDocument.dossier_id == dossier_id)
                             .options(defer(SignedDocument.content))  # type: ignore[arg-type]
                             .order_by(SignedDocument.id)).all())  # type: ignore[arg-type]


def load_signed(session: Session, document_id: int) -> bytes | None:
    row = session.get(SignedDocument, document_id)
    return row.content if row is not None else None
