from __future__ import annotations

import pytest

from tests.storage.conftest import s3_endpoint  # noqa: F401 (the S3 server, for the API on S3)


@pytest.fixture
def app(settings, clock, engine, tmp_path):  # noqa: ANN001, ANN201
    """The app with a storage directory of this test's own (its contents are asserted)."""
    from app.main import create_app

    settings = settings.model_copy(update={"storage_dir": str(tmp_path / "files"), "max_file_bytes": 64 * 1024,
                                           "max_dossier_bytes": 256 * 1024})
    return create_app(settings, clock=clock, engine=engine)
