"""S3-compatible backend (boto3): multipart upload to a temporary key, copy to the final key."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any, BinaryIO

from app.storage.base import CHUNK, StorageUnavailable, StoredObject, check_name, chunks

PART = max(CHUNK, 8 * 1024 * 1024)  # S3 parts are at least 5 MiB (but the last)


class S3Storage:
    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix

    def _key(self, sha256: str) -> str:
        return f"{self.prefix}{check_name(sha256)}"

    def put(self, stream: BinaryIO, *, max_bytes: int | None = None) -> StoredObject:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return self._put(stream, max_bytes)
        except (BotoCoreError, ClientError) as exc:
            raise StorageUnavailable(f"object store: {type(exc).__name__}") from exc

    def _put(self, stream: BinaryIO, max_bytes: int | None) -> StoredObject:
        digest = hashlib.sha256()
        tmp_key = f"{self.prefix}tmp/{uuid.uuid4().hex}"
        upload = self.client.create_multipart_upload(Bucket=self.bucket, Key=tmp_key)
        upload_id = upload["UploadId"]
        parts: list[dict[str, Any]] = []
        buffer = bytearray()
        size = 0

        def send(data: bytes) -> None:
            number = len(parts) + 1
            answer = self.client.upload_part(Bucket=self.bucket, Key=tmp_key, UploadId=upload_id,
                                             PartNumber=number, Body=data)
            parts.append({"ETag": answer["ETag"], "PartNumber": number})

        try:
            for chunk in chunks(stream, digest, max_bytes):
                buffer += chunk
                size += len(chunk)
                if len(buffer) >= PART:
                    send(bytes(buffer))
                    buffer.clear()
            if buffer or not parts:
                send(bytes(buffer))
            self.client.complete_multipart_upload(Bucket=self.bucket, Key=tmp_key, UploadId=upload_id,
                                                  MultipartUpload={"Parts": parts})
        except BaseException:
            try:
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=tmp_key, UploadId=upload_id)
            except Exception:  # noqa: BLE001 - the first error is the one to report
                pass
            raise
        sha256 = digest.hexdigest()
        try:
            if not self.exists(sha256):
                # Server-side copy (multipart when large): the final key appears whole or not at all.
                self.client.copy({"Bucket": self.bucket, "Key": tmp_key}, self.bucket, self._key(sha256))
        finally:
            self.client.delete_object(Bucket=self.bucket, Key=tmp_key)
        return StoredObject(sha256=sha256, size=size)

    def open(self, sha256: str) -> BinaryIO:
        from botocore.exceptions import BotoCoreError, ClientError

        key = self._key(sha256)
        try:
            return self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
        except self.client.exceptions.NoSuchKey:
            raise FileNotFoundError(sha256) from None
        except (BotoCoreError, ClientError) as exc:
            raise StorageUnavailable(f"object store: {type(exc).__name__}") from exc

    def exists(self, sha256: str) -> bool:
        from botocore.exceptions import BotoCoreError, ClientError

        key = self._key(sha256)
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise StorageUnavailable(f"object store: {type(exc).__name__}") from exc
        except BotoCoreError as exc:
            raise StorageUnavailable(f"object store: {type(exc).__name__}") from exc
        return True
