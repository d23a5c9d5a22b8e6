"""The storage interface and what both backends share."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import BinaryIO, Protocol

CHUNK = 1024 * 1024  # bytes read from a stream at a time
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class StoredObject:
    sha256: str  # lowercase hex: the object's name
    size: int  # bytes


class TooLarge(Exception):
    """The stream went beyond `max_bytes`; nothing was stored."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"more than {max_bytes} bytes")
        self.max_bytes = max_bytes


class StorageUnavailable(Exception):
    """The backend could not be reached or written (disk full, object store down): retry later."""


class Storage(Protocol):
    def put(self, stream: BinaryIO, *, max_bytes: int | None = None) -> StoredObject:
        """Store the stream's remaining bytes; raises TooLarge (storing nothing) beyond `max_bytes`."""

    def open(self, sha256: str) -> BinaryIO:
        """A binary stream of the object (close it); FileNotFoundError if absent."""

    def exists(self, sha256: str) -> bool: ...


def check_name(sha256: str) -> str:
    if not _SHA256.match(sha256):
        raise ValueError("not a SHA-256 hex digest")
    return sha256


def chunks(stream: BinaryIO, digest: hashlib._Hash, max_bytes: int | None):  # noqa: ANN201
    """Yield the stream's chunks, feeding `digest`; raise TooLarge past `max_bytes`."""
    size = 0
    while True:
        chunk = stream.read(CHUNK)
        if not chunk:
            return
        size += len(chunk)
        if max_bytes is not None and size > max_bytes:
            raise TooLarge(max_bytes)
        digest.update(chunk)
        yield chunk
