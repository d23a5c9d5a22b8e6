"""Dossier codes `{agency identifier}-{yyMMdd}-{NNNN}` and the citizen's lookup secret."""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from datetime import date

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from app.models import DossierSequence

# No 0/O, 1/I/L: the secret is read off a paper slip and typed on a phone.
_SECRET_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
# Ten symbols of 31 drawn by `secrets`: log2(31**10) = 49.5 bits (eight gave 39.6, under the 40 asked).
# Printed as two groups of five (K7QM4-XPT2B); secrets of eight issued before stay valid.
SECRET_LENGTH = 10
SECRET_BITS = SECRET_LENGTH * math.log2(len(_SECRET_ALPHABET))
_PBKDF2_ROUNDS = 2000  # cheap enough for the lookup path; the lookup is rate-limited anyway


def next_sequence(session: Session, agency_id: int, day: date) -> int:
    """Bump and return today's counter for the agency.

    The upsert takes a row lock held until the intake transaction commits, so concurrent intakes
    queue up and get consecutive numbers; a rolled-back intake rolls its number back: no gaps.
    """
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    table = DossierSequence.__table__  # type: ignore[attr-defined]
    statement = (insert(table).values(agency_id=agency_id, day=day, last_value=1)
                 .on_conflict_do_update(index_elements=["agency_id", "day"],
                                        set_={"last_value": table.c.last_value + 1})
                 .returning(table.c.last_value))
    return int(session.execute(statement).scalar_one())


def format_code(agency_code: str, day: date, number: int) -> str:
    return f"{agency_code}-{day:%y%m%d}-{number:04d}"


def new_lookup_secret() -> str:
    return normalize_secret("".join(secrets.choice(_SECRET_ALPHABET) for _ in range(SECRET_LENGTH)))


def normalize_secret(secret: str) -> str:
    """Upper case, two halves joined by a dash: XXXXX-XXXXX (XXXX-XXXX for the older secrets)."""
    cleaned = "".join(ch for ch in secret.upper() if ch.isalnum())
    half = len(cleaned) // 2
    return f"{cleaned[:half]}-{cleaned[half:]}"


def hash_secret(secret: str) -> str:
    salt = secrets.token_hex(8)
    digest = hashlib.pbkdf2_hmac("sha256", normalize_secret(secret).encode(), salt.encode(), _PBKDF2_ROUNDS)
    return f"pbkdf2${salt}${digest.hex()}"


def verify_secret(secret: str, stored: str) -> bool:
    try:
        _, salt, expected = stored.split("$")
    except ValueError:
        return False
    digest = hashlib.pbkdf2_hmac("sha256", normalize_secret(secret).encode(), salt.encode(), _PBKDF2_ROUNDS)
    return hmac.compare_digest(digest.hex(), expected)
