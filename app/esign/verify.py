"""Public verification of a PDF (POST /api/v1/public/verify, page /xac-thuc): did this service
sign it, for which dossier, by whom, when, and was it changed since?

Rate-limited per address like the citizen lookup (`ratelimit.client_of`). The answer carries
nothing the signed document does not already show (dossier code, signer, date); never the
applicant's name.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from pydantic import BaseModel, Field
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select

from app.db import transaction
from app.esign.signing import Verification, verify_pdf
from app.esign.store import KINDS
from app.errors import DomainError, RateLimited
from app.fields import LocalDateTime
from app.models import Dossier, SignedDocument
from app.settings import Settings
from app.web import ratelimit


class TooLarge(DomainError):
    status_code = 413
    code = "file_too_large"
    message = "Tệp quá lớn để kiểm tra."


class VerifyOut(BaseModel):
    signed: bool = Field(description="Tệp có chữ ký số")
    valid: bool = Field(description="Chữ ký hợp lệ, của cơ quan, tệp không bị thay đổi sau khi ký")
    intact: bool = Field(description="Nội dung đã ký không bị thay đổi")
    trusted: bool = Field(description="Chứng thư số chuỗi về CA được cấu hình của cơ quan")
    modified_after_signing: bool = Field(description="Tệp bị sửa hoặc thêm nội dung sau khi ký")
    issued_here: bool = Field(description="Văn bản có trong sổ văn bản điện tử của hệ thống (cùng SHA-256)")
    verdict: str = Field(description="Kết luận bằng lời")
    dossier_code: str | None
    document: str | None = Field(description="Loại văn bản")
    signer_name: str | None
    signer_title: str | None
    signed_at: LocalDateTime | None
    sha256: str


def _verdict(check: Verification, issued_here: bool) -> str:
    if not check.signed:
        return "Tệp không có chữ ký số."
    if not check.intact:
        return "Tệp ĐÃ BỊ THAY ĐỔI sau khi ký: nội dung không còn khớp với chữ ký số."
    if not check.trusted:
        return "Chữ ký số không do cơ quan này ký (chứng thư số không thuộc cơ quan)."
    if not check.covers_whole_file:
        return "Tệp ĐÃ BỊ THAY ĐỔI sau khi ký: có nội dung được thêm vào sau chữ ký số."
    if issued_here:
        return "Văn bản do cơ quan ký số, còn nguyên vẹn, khớp với bản lưu của hệ thống."
    return "Chữ ký số hợp lệ của cơ quan; tệp còn nguyên vẹn."


def check(session: Session, data: bytes, *, settings: Settings) -> VerifyOut:
    digest = hashlib.sha256(data).hexdigest()
    result = verify_pdf(data, settings)
    record = session.exec(select(SignedDocument).where(SignedDocument.sha256 == digest)
                          .order_by(SignedDocument.id)).first()  # type: ignore[arg-type]
    code, kind, name, title, signed_at = (result.dossier_code, result.kind_label, result.signer_name,
                                          result.signer_title, result.signed_at)
    if record is not None:
        dossier = session.get(Dossier, record.dossier_id)
        code = dossier.code if dossier else code
        kind, name, title, signed_at = KINDS[record.kind], record.signer_name, record.signer_title, record.signed_at
    trusted_signature = result.signed and result.trusted
    return VerifyOut(signed=result.signed, valid=result.valid, intact=result.intact, trusted=result.trusted,
                     modified_after_signing=result.signed and not (result.intact and result.covers_whole_file),
                     issued_here=record is not None and result.valid, verdict=_verdict(result, record is not None),
                     dossier_code=code if trusted_signature or record else None,
                     document=kind if trusted_signature or record else None,
                     signer_name=name if trusted_signature or record else None,
                     signer_title=title if trusted_signature or record else None,
                     signed_at=signed_at if trusted_signature or record else None, sha256=digest)


def verify(factory: sessionmaker[Session], data: bytes, *, client: str, now: datetime,
           settings: Settings) -> VerifyOut:
    """Count the request against its address (`RateLimited` beyond the limit), then check."""
    client_hash = ratelimit.fingerprint("addr", client, settings)
    with transaction(factory) as session:
        hit = ratelimit.hit(session, f"verify:addr:{client_hash}", limit=settings.verify_rate_per_minute,
                            window_seconds=ratelimit.MINUTE, now=now)
    if hit.exceeded:
        raise RateLimited(f"Đã kiểm tra quá nhiều tệp. Vui lòng thử lại sau {hit.retry_after} giây.",
                          detail={"retry_after": hit.retry_after}, headers={"Retry-After": str(hit.retry_after)})
    if len(data) > settings.verify_max_bytes:
        raise TooLarge(detail={"max_bytes": settings.verify_max_bytes})
    with transaction(factory) as session:
        return check(session, data, settings=settings)
