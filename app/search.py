"""Finding a dossier by what a person types: its code, the applicant's name with or without
diacritics, the identity number, the phone. Pure functions (the Alembic revision 0018 fills the
stored search key with `name_key`, the same normaliser the application writes with).

`name_key("Nguyễn Văn Đạt")` == `name_key("nguyen van dat")` == "nguyen van dat": NFD, combining
marks dropped, đ/Đ → d, lower case, spaces collapsed. The dossier keeps it in `applicant_name_key`
(a GIN trigram index on PostgreSQL; `LIKE '%...%'` on both databases).
"""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")
_PHONE = re.compile(r"^(?:\+?84|0)?([1-9][0-9]{8,9})$")
MIN_NAME_CHARS = 2  # fewer: no name search (every name would match); a trigram index needs 3


def name_key(value: str | None) -> str:
    """The searchable form of a name: lower case, no diacritics, đ → d, single spaces."""
    if not value:
        return ""
    text = unicodedata.normalize("NFD", value.replace("đ", "d").replace("Đ", "D"))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return _SPACES.sub(" ", text).strip().lower()


def phone_forms(value: str) -> list[str]:
    """The stored spellings of a typed phone number ("0912 345 678", "+84912345678", "84912...")."""
    digits = re.sub(r"[\s.\-()]", "", value)
    match = _PHONE.match(digits)
    if not match:
        return []
    national = match.group(1)
    return [f"0{national}", f"+84{national}"]


LIKE_ESCAPE = "!"  # not a backslash: its literal differs between the two databases


def like_pattern(key: str) -> str:
    """`%key%` with LIKE's wildcards escaped (escape character `LIKE_ESCAPE`)."""
    escaped = key.replace("!", "!!").replace("%", "!%").replace("_", "!_")
    return f"%{escaped}%"
