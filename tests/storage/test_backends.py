"""The storage interface, the same tests on both backends (local directory, S3 over HTTP)."""

from __future__ import annotations

import hashlib
import io
import os

import pytest

from app.storage import Storage, StoredObject, TooLarge
from app.storage.local import LocalStorage
from app.storage.s3 import S3Storage


class Endless(io.RawIOBase):
    """A stream of `size` pseudo-random bytes produced on demand (never whole in memory)."""

    def __init__(self, size: int) -> None:
        self.left = size
        self.digest = hashlib.sha256()
        self.block = os.urandom(64 * 1024)

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        out = (self.block * (n // len(self.block) + 1))[:n]
        self.left -= n
        self.digest.update(out)
        return out


def _read(storage: Storage, sha256: str) -> bytes:
    stream = storage.open(sha256)
    try:
        return stream.read()
    finally:
        stream.close()


def test_put_open_exists_round_trip(storage: Storage) -> None:
    data = "Giấy khai sinh bản sao".encode() * 100
    obj = storage.put(io.BytesIO(data))
    assert obj == StoredObject(sha256=hashlib.sha256(data).hexdigest(), size=len(data))
    assert storage.exists(obj.sha256)
    assert _read(storage, obj.sha256) == data
    assert not storage.exists("0" * 64)


def test_same_bytes_are_stored_once(storage: Storage) -> None:
    first = storage.put(io.BytesIO(b"%PDF-1.7 same"))
    second = storage.put(io.BytesIO(b"%PDF-1.7 same"))
    assert first == second
    assert _read(storage, first.sha256) == b"%PDF-1.7 same"


def test_empty_stream_is_an_object_of_zero_bytes(storage: Storage) -> None:
    obj = storage.put(io.BytesIO(b""))
    assert obj.size == 0 and obj.sha256 == hashlib.sha256(b"").hexdigest()
    assert _read(storage, obj.sha256) == b""


def test_large_stream_goes_up_in_parts(storage: Storage) -> None:
    size = 20 * 1024 * 1024 + 123  # 20 MiB and a bit: several S3 parts, a short last one
    source = Endless(size)
    obj = storage.put(source)
    assert obj.size == size and obj.sha256 == source.digest.hexdigest()
    digest = hashlib.sha256()
    stream = storage.open(obj.sha256)
    try:
        while chunk := stream.read(1024 * 1024):
            digest.update(chunk)
    finally:
        stream.close()
    assert digest.hexdigest() == obj.sha256


def test_over_the_limit_stores_nothing(storage: Storage) -> None:
    data = b"x" * 5000
    with pytest.raises(TooLarge):
        storage.put(io.BytesIO(data), max_bytes=4999)
    assert not storage.exists(hashlib.sha256(data).hexdigest())
    _assert_no_leftovers(storage)


def test_a_failing_stream_leaves_no_half_object(storage: Storage) -> None:
    class Broken(io.RawIOBase):
        def __init__(self) -> None:
            self.calls = 0

        def readable(self) -> bool:
            return True

        def read(self, n: int = -1) -> bytes:
            self.calls += 1
            if self.calls > 2:
                raise OSError("client went away")
            return b"y" * 1024 * 1024

    with pytest.raises(OSError):
        storage.put(Broken())
    _assert_no_leftovers(storage)


def test_names_must_be_sha256(storage: Storage) -> None:
    with pytest.raises(ValueError):
        storage.exists("../../etc/passwd")
    with pytest.raises(FileNotFoundError):
        storage.open("a" * 64)


def _assert_no_leftovers(storage: Storage) -> None:
    """No object and no temporary name stays behind after a refused or failed put."""
    if isinstance(storage, LocalStorage):
        assert not any(p.is_file() for p in storage.root.rglob("*")), list(storage.root.rglob("*"))
    else:
        assert isinstance(storage, S3Storage)
        listed = storage.client.list_objects_v2(Bucket=storage.bucket).get("Contents", [])
        assert listed == []
        uploads = storage.client.list_multipart_uploads(Bucket=storage.bucket).get("Uploads", [])
        assert uploads == []
