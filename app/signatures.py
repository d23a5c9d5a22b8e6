"""Who may sign for an agency, how the signature block reads, and the agency's document numbers.

Vietnamese administrative convention (Decree 30/2020/NĐ-CP on administrative documents, Art. 13
and Appendix I): the head signs as "GIÁM ĐỐC" + name; a deputy signs on the head's behalf as
"KT. GIÁM ĐỐC" / "PHÓ GIÁM ĐỐC" + name. A division head (Trưởng phòng) never signs the agency's
apology (form 04), stop notice (form 05) or reasoned refusal: the agency's own leaders do.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlmodel import Session

from app.auth.principal import Principal
from app.errors import NotPermitted
from app.models import Agency, Role, User

# Symbols of the documents in the agency's register (the part after the number: "12/PXL-SGDĐT").
DOCUMENT_SYMBOLS = {"refusal": "PTC", "apology": "PXL", "stop": "TB", "result_refusal": "CV",
                    "receipt": "BLĐT"}  # biên lai điện tử thu phí, lệ phí (app/payments)


def is_agency_leader(user: User, roles: frozenset[str] | list[str], agency_id: int) -> bool:
    """A leader who belongs to the agency itself (Giám đốc, Phó Giám đốc), not to one of its divisions."""
    return Role.leader in roles and user.agency_id == agency_id


def require_agency_leader(principal: Principal, agency_id: int, what: str) -> None:
    if not is_agency_leader(principal.user, principal.roles, agency_id):
        raise NotPermitted(f"Chỉ Giám đốc hoặc Phó Giám đốc của cơ quan mới được {what}.",
                           code="agency_leader_required")


def _upper(text_: str) -> str:
    return unicodedata.normalize("NFC", text_).upper()


def signature_title(agency: Agency, signer_title: str | None) -> str:
    """The title lines above the signature (newline-separated), from the signer's own title."""
    head = agency.head_title.strip() or "Giám đốc"
    title = (signer_title or head).strip()
    if title.lower().startswith("phó"):
        return f"KT. {_upper(head)}\nPHÓ {_upper(head)}"
    if title.lower().startswith(head.lower()):
        return _upper(head)
    return _upper(title)


def agency_symbol(agency: Agency) -> str:
    if agency.short_name:
        return agency.short_name
    # Initials of the agency's name, as offices abbreviate it ("Sở Giáo dục và Đào tạo" → "SGDĐT").
    words = [w for w in agency.name.split("(")[0].split() if w.lower() not in {"và", "tỉnh", "thành", "phố"}]
    return "".join(_upper(w[0]) for w in words if w[0].isalpha()) or "CQ"


def next_document_number(session: Session, agency: Agency, kind: str, *, now: datetime, tz: str) -> str:
    """The next number of the agency's register for `kind` this year, taken in the caller's
    transaction (the upsert locks the register row until commit: numbers never repeat)."""
    year = now.astimezone(ZoneInfo(tz)).year
    value = session.execute(text(
        "INSERT INTO document_registers (agency_id, year, kind, last_value) VALUES (:a, :y, :k, 1) "
        "ON CONFLICT (agency_id, year, kind) DO UPDATE SET last_value = document_registers.last_value + 1 "
        "RETURNING last_value"), {"a": agency.id, "y": year, "k": kind}).scalar_one()
    return f"{value:02d}/{DOCUMENT_SYMBOLS[kind]}-{agency_symbol(agency)}"
