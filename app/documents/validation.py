"""What a dossier file may be: its type read from its content (never its name), its structure
checked, its size bounded. Every refusal is a 4xx in the error shape, raised before anything is
stored."""

from __future__ import annotations

import zipfile
from typing import BinaryIO

import filetype

from app.errors import DomainError, Invalid

# Detected MIME type -> what the desk calls it.
ALLOWED = {
    "application/pdf": "PDF",
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/tiff": "TIFF",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "DOCX",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "XLSX",
}
_ZIPPED = {"application/vnd.openxmlformats-officedocument.wordprocessingml.document",
           "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
HEAD = 8192  # bytes the type matchers read
PDF_TAIL = 2048  # `%%EOF` must be in the last bytes of a complete PDF


class FileTooLarge(DomainError):
    status_code = 413
    code = "file_too_large"
    message = "Tệp quá lớn."


class UnsupportedFileType(DomainError):
    status_code = 415
    code = "unsupported_file_type"
    message = "Định dạng tệp không được chấp nhận."


def _mb(n: int) -> str:
    return f"{n / 1024 / 1024:g} MB"


def check_size(size: int, *, max_file: int, dossier_total: int, max_dossier: int) -> None:
    if size == 0:
        raise Invalid("Tệp rỗng (0 byte); vui lòng chọn lại tệp đã quét.", code="empty_file")
    if size > max_file:
        raise FileTooLarge(f"Tệp quá lớn: tối đa {_mb(max_file)} mỗi tệp.", detail={"max_bytes": max_file, "size": size})
    if dossier_total + size > max_dossier:
        raise FileTooLarge(f"Tổng dung lượng tệp của hồ sơ vượt quá {_mb(max_dossier)}.",
                           code="dossier_files_too_large",
                           detail={"max_bytes": max_dossier, "stored_bytes": dossier_total, "size": size})


def detect(stream: BinaryIO, size: int) -> str:
    """The file's MIME type, from its content; refuses other types and damaged PDFs / Office files.
    The stream is left at its start."""
    stream.seek(0)
    head = stream.read(HEAD)
    stream.seek(0)
    kind = filetype.guess(head)
    mime = kind.mime if kind else None
    if mime not in ALLOWED:
        raise UnsupportedFileType(
            "Định dạng tệp không được chấp nhận (xác định theo nội dung tệp, không theo tên tệp). "
            "Chỉ nhận PDF, JPEG, PNG, TIFF, DOCX, XLSX.",
            detail={"detected": mime, "allowed": sorted(ALLOWED.values())})
    if mime == "application/pdf":
        _check_pdf(stream, size)
    elif mime in _ZIPPED:
        _check_zip(stream)
    stream.seek(0)
    return mime


def _damaged(what: str, why: str) -> Invalid:
    return Invalid(f"Tệp {what} bị hỏng hoặc không đầy đủ; vui lòng quét hoặc tải lại.", code="damaged_file",
                   detail={"type": what, "reason": why})


def _check_pdf(stream: BinaryIO, size: int) -> None:
    """A complete PDF: `%PDF-` header, `%%EOF` trailer, and pypdf reads its page tree."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    stream.seek(max(0, size - PDF_TAIL))
    if b"%%EOF" not in stream.read(PDF_TAIL):
        raise _damaged("PDF", "no %%EOF trailer (truncated)")
    stream.seek(0)
    try:
        reader = PdfReader(stream, strict=False)
        pages = len(reader.pages)
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, OSError, RecursionError):
        raise _damaged("PDF", "unreadable structure") from None
    if pages < 1:
        raise _damaged("PDF", "no page")


def _check_zip(stream: BinaryIO) -> None:
    stream.seek(0)
    try:
        with zipfile.ZipFile(stream) as archive:
            archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise _damaged("DOCX/XLSX", "incomplete archive") from None
