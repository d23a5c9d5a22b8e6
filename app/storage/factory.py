"""The backend the settings name (one instance per process and configuration)."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from app.storage.base import Storage

if TYPE_CHECKING:
    from app.settings import Settings


def get_storage(settings: Settings) -> Storage:
    if settings.storage_backend == "s3":
        return _s3(settings.s3_bucket, settings.s3_prefix, settings.s3_endpoint_url, settings.s3_region,
                   settings.s3_access_key_id,
                   settings.s3_secret_access_key.get_secret_value() if settings.s3_secret_access_key else None)
    return _local(settings.storage_dir)


@lru_cache
def _local(root: str) -> Storage:
    from app.storage.local import LocalStorage

    return LocalStorage(root)


@lru_cache
def _s3(bucket: str, prefix: str, endpoint: str | None, region: str, key_id: str | None,
        secret: str | None) -> Storage:
    import boto3
    from botocore.config import Config

    from app.storage.s3 import S3Storage

    client = boto3.client("s3", endpoint_url=endpoint, region_name=region, aws_access_key_id=key_id,
                          aws_secret_access_key=secret,
                          config=Config(retries={"max_attempts": 3, "mode": "standard"},
                                        s3={"addressing_style": "path"}))
    return S3Storage(client, bucket, prefix)
