"""Content-addressed file storage: one interface, two backends (docs/STORAGE.md).

    storage = get_storage(settings)
    obj = storage.put(stream)            # -> StoredObject(sha256, size); streamed, never half-written
    with storage.open(obj.sha256) as f:  # -> a binary stream (read in chunks)
        ...
    storage.exists(obj.sha256)           # -> bool

* `local` (default): a directory (`MOTCUA_STORAGE_DIR`, `./var/files`); objects at
  `<dir>/ab/cd/<sha256>`, written to a temporary name in the same directory tree, fsynced, then
  renamed (atomic on POSIX), so a crash never leaves a half object under a final name.
* `s3`: any S3-compatible object store (`MOTCUA_S3_*`, boto3). The stream goes up in parts
  (multipart upload) to a temporary key, then is copied to its final key `<prefix><sha256>` (the
  hash is only known at the end) and the temporary key removed: a reader never sees half an object.

Objects are immutable and named by their SHA-256: putting the same bytes twice stores them once.
A backend that cannot be reached or written raises `StorageUnavailable` (callers answer 503).
`put` reads the stream in chunks of `CHUNK` bytes; nothing holds a whole file in memory.
"""

from __future__ import annotations

from app.storage.base import CHUNK, Storage, StorageUnavailable, StoredObject, TooLarge
from app.storage.factory import get_storage

__all__ = ["CHUNK", "Storage", "StorageUnavailable", "StoredObject", "TooLarge", "get_storage"]
