"""Both storage backends, for the same tests: a temporary directory, and a real S3-protocol server
(moto's server mode, started here on a free 127.0.0.1 port) reached by boto3 over HTTP."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from app.storage import Storage


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def s3_client(endpoint: str):  # noqa: ANN201
    import boto3

    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test",
                        aws_secret_access_key="test")


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path) -> Storage:  # noqa: ANN001
    if request.param == "local":
        from app.storage.local import LocalStorage

        return LocalStorage(tmp_path / "files")
    from app.storage.s3 import S3Storage

    endpoint = request.getfixturevalue("s3_endpoint")
    client = s3_client(endpoint)
    bucket = f"motcua-{tmp_path.name.lower().replace('_', '-')[-40:]}"
    client.create_bucket(Bucket=bucket)
    return S3Storage(client, bucket, prefix="files/")
