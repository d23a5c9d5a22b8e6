"""Password hashing with Argon2id (argon2-cffi), and the rule a new password must meet.

Parameters (settings, docs/SECURITY.md): Argon2id, time cost 3, memory 64 MiB (65,536 KiB),
parallelism 4, 16-byte salt, 32-byte hash: RFC 9106's second recommended profile and
argon2-cffi's defaults. Each hash or check holds its memory for its whole run, so a worker
allows at most `password_hash_concurrency` of them at once (a semaphore); a request that cannot
get a slot within `password_hash_wait_seconds` answers 503 with Retry-After instead of queueing
without bound. A worker's memory for hashing is thus capped at concurrency × memory cost
(measured in docs/BENCHMARKS.md, "Concurrent bad logins").
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from app.errors import Invalid, Unavailable
from app.settings import Settings

SALT_BYTES = 16
HASH_BYTES = 32
MIN_LENGTH = 8
MAX_LENGTH = 128


@lru_cache(maxsize=4)
def _hasher(time_cost: int, memory_cost: int, parallelism: int = 4) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism,
                          hash_len=HASH_BYTES, salt_len=SALT_BYTES, type=Type.ID)


def hasher(settings: Settings) -> PasswordHasher:
    return _hasher(settings.password_time_cost, settings.password_memory_cost, settings.password_parallelism)


@lru_cache(maxsize=4)
def _gate(slots: int) -> threading.BoundedSemaphore:
    return threading.BoundedSemaphore(slots)


@contextmanager
def hashing_slot(settings: Settings) -> Iterator[None]:
    """Hold one of the worker's `password_hash_concurrency` hashing slots."""
    gate = _gate(settings.password_hash_concurrency)
    if not gate.acquire(timeout=settings.password_hash_wait_seconds):
        raise Unavailable("Hệ thống đang bận kiểm tra mật khẩu; vui lòng thử lại sau ít giây.", code="auth_busy",
                          headers={"Retry-After": "5"})
    try:
        yield
    finally:
        gate.release()


def hash_password(password: str, settings: Settings) -> str:
    with hashing_slot(settings):
        return hasher(settings).hash(password)


def verify_password(password: str, password_hash: str, settings: Settings) -> bool:
    with hashing_slot(settings):
        try:
            return hasher(settings).verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False


# A hash to verify against when the username is unknown, so both paths take the same time.
# Made once per parameter set, in a hashing slot: a burst of unknown usernames on a fresh worker
# must not compute it once per thread outside the bound (measured: +800 MiB before this lock).
_dummies: dict[tuple[int, int, int], str] = {}
_dummy_lock = threading.Lock()


def dummy_hash(settings: Settings) -> str:
    key = (settings.password_time_cost, settings.password_memory_cost, settings.password_parallelism)
    with _dummy_lock:
        if key not in _dummies:
            _dummies[key] = hash_password("motcua-timing-equaliser", settings)
        return _dummies[key]


def check_new_password(password: str, *, username: str) -> None:
    """The minimal rule for a password being set: 8 to 128 characters, letters and digits, not the
    username. Raises `Invalid` (422, code weak_password) with the reason in Vietnamese."""
    if len(password) < MIN_LENGTH:
        raise Invalid(f"Mật khẩu phải có ít nhất {MIN_LENGTH} ký tự.", code="weak_password")
    if len(password) > MAX_LENGTH:
        raise Invalid(f"Mật khẩu dài tối đa {MAX_LENGTH} ký tự.", code="weak_password")
    if not any(ch.isalpha() for ch in password) or not any(ch.isdigit() for ch in password):
        raise Invalid("Mật khẩu phải có cả chữ và số.", code="weak_password")
    if username and username.lower() in password.lower():
        raise Invalid("Mật khẩu không được chứa tên đăng nhập.", code="weak_password")
