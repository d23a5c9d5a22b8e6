"""Local directory backend: temporary file, fsync, atomic rename."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import BinaryIO

from app.storage.base import StorageUnavailable, StoredObject, check_name, chunks


class LocalStorage:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.tmp = self.root / "tmp"

    def _path(self, sha256: str) -> Path:
        check_name(sha256)
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, stream: BinaryIO, *, max_bytes: int | None = None) -> StoredObject:
        try:
            self.tmp.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(dir=self.tmp, prefix="up-")
        except OSError as exc:
            raise StorageUnavailable(f"local storage not writable: {type(exc).__name__}") from exc
        digest = hashlib.sha256()
        size = 0
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks(stream, digest, max_bytes):
                    out.write(chunk)
                    size += len(chunk)
                out.flush()
                os.fsync(out.fileno())
            final = self._path(digest.hexdigest())
            try:
                final.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp_name, final)  # same file system: atomic; same bytes if it already existed
            except OSError as exc:
                raise StorageUnavailable(f"local storage not writable: {type(exc).__name__}") from exc
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        return StoredObject(sha256=digest.hexdigest(), size=size)

    def open(self, sha256: str) -> BinaryIO:
        return self._path(sha256).open("rb")

    def exists(self, sha256: str) -> bool:
        return self._path(sha256).is_file()
