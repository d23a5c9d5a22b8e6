"""Password hashing with Argon2id (argon2-cffi)."""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from app.settings import Settings


@lru_cache(maxsize=4)
def _hasher(time_cost: int, memory_cost: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_cost)


def hasher(settings: Settings) -> PasswordHasher:
    return _hasher(settings.password_time_cost, settings.password_memory_cost)


def hash_password(password: str, settings: Settings) -> str:
    return hasher(settings).hash(password)


def verify_password(password: str, password_hash: str, settings: Settings) -> bool:
    try:
        return hasher(settings).verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# A hash to verify against when the username is unknown, so both paths take the same time.
def dummy_hash(settings: Settings) -> str:
    return _dummy(settings.password_time_cost, settings.password_memory_cost)


@lru_cache(maxsize=4)
def _dummy(time_cost: int, memory_cost: int) -> str:
    return _hasher(time_cost, memory_cost).hash("motcua-timing-equaliser")
