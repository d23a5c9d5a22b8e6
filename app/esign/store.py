"""Where the signed PDFs live: the row in `signed_documents` says what was signed, by whom and
when; the bytes go to the content-addressed storage (app/storage: a local directory or S3) under
their SHA-256, like every dossier file. Nothing else reads or writes the bytes.
"""

from __future__ import annotations

import io
from datetime import datetime

from sqlmodel import Session, select

from sqlalchemy import func

from app.models import Dossier, DossierFile, SignedDocument
from app.settings import Settings
from app.storage import get_storage

# kind -> what the document is (the signature's reason and the verify page say it)
KINDS = {"result": "Kết quả giải quyết hồ sơ", "result_refusal": "Văn bản trả lời không giải quyết hồ sơ",
         "refusal": "Phiếu từ chối tiếp nhận giải quyết hồ sơ (Mẫu số 03)",
         "apology": "Văn bản xin lỗi và hẹn lại ngày trả kết quả (Mẫu số 04)",
         "stop": "Thông báo dừng giải quyết hồ sơ (Mẫu số 05)"}
RESULT_KINDS = ("result", "result_refusal")  # what the citizen downloads and Decision 766 counts


def save_signed(session: Session, settings: Settings, *, dossier_id: int, kind: str, file_name: str,
                content: bytes, signer_name: str, signer_title: str, signed_by_id: int | None,
                signed_at: datetime) -> SignedDocument:
    assert kind in KINDS, kind
    stored = get_storage(settings).put(io.BytesIO(content))  # before the row: never a row without its bytes
    row = SignedDocument(dossier_id=dossier_id, kind=kind, file_name=file_name, sha256=stored.sha256,
                         size=stored.size, signer_name=signer_name, signer_title=signer_title,
                         signed_by_id=signed_by_id, signed_at=signed_at)
    if kind in RESULT_KINDS:
        _file_the_result(session, dossier_id, file_name=file_name, sha256=stored.sha256, size=stored.size,
                         signed_by_id=signed_by_id, signed_at=signed_at)
    session.add(row)
    session.flush()
    return row


def latest_signed(session: Session, dossier_id: int, kinds: tuple[str, ...]) -> SignedDocument | None:
    """The newest signed document of these kinds (a result signed again after a send-back wins)."""
    return session.exec(select(SignedDocument).where(SignedDocument.dossier_id == dossier_id,
                                                     SignedDocument.kind.in_(kinds))  # type: ignore[attr-defined]
                        .order_by(SignedDocument.id.desc())).first()  # type: ignore[union-attr]


def signed_of(session: Session, dossier_id: int) -> list[SignedDocument]:
    """Every signed document of a dossier, oldest first."""
    return list(session.exec(select(SignedDocument).where(SignedDocument.dossier_id == dossier_id)
                             .order_by(SignedDocument.id)).all())  # type: ignore[arg-type]


def load_signed(session: Session, settings: Settings, document_id: int) -> bytes | None:
    """The signed PDF's bytes (a signed result is tens of KB: read whole)."""
    row = session.get(SignedDocument, document_id)
    if row is None:
        return None
    with get_storage(settings).open(row.sha256) as stream:
        return stream.read()


RESULT_COMPONENT = ("result", "Kết quả giải quyết (bản điện tử có ký số)")


def _file_the_result(session: Session, dossier_id: int, *, file_name: str, sha256: str, size: int,
                     signed_by_id: int | None, signed_at: datetime) -> None:
    """The signed result also joins the dossier's files (component `result`): the applicant's
    results are then listed and reused at the desk like their digitised documents (Decree 45/2020:
    a paper already digitised, a result already issued, is not asked for again)."""
    dossier = session.get(Dossier, dossier_id)
    assert dossier is not None
    versions = session.exec(select(func.count()).select_from(DossierFile).where(
        DossierFile.dossier_id == dossier_id, DossierFile.component_key == RESULT_COMPONENT[0])).one()
    session.add(DossierFile(dossier_id=dossier_id, component_key=RESULT_COMPONENT[0],
                            component_name=RESULT_COMPONENT[1], kind="electronic_original", version=versions + 1,
                            sha256=sha256, size=size, content_type="application/pdf", filename=file_name,
                            source="signed", applicant_id_number=dossier.applicant_id_number,
                            uploaded_by_id=signed_by_id, uploaded_at=signed_at))
