"""Dossier codes `{agency identifier}-{yyMMdd}-{NNNN}` and the citizen's lookup secret."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import date

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from app.models import DossierSequence

# No 0/O, 1/I/L: the secret is read off a paper slip and typed on a phone.
_SECRET_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
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
    raw = "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(8))
    return f"{raw[:4]}-{raw[4:]}"


def normalize_secret(secret: str) -> str:
    cleaned = "".join(ch for ch in secret.upper() if ch.isalnum())
    return f"{cleaned[:4]}-{cleaned[4:]}"


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
