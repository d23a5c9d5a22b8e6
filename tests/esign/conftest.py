"""Tests of signed documents run with the demo certificate configured (made once per session)."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from app.esign.pki import DemoPki, write_demo_pki
from app.settings import Settings
from tests.conftest import make_settings, truncate_all


@pytest.fixture(scope="session")
def demo_pki(tmp_path_factory: pytest.TempPathFactory) -> DemoPki:
    return write_demo_pki(tmp_path_factory.mktemp("pki"), "Sở Giáo dục và Đào tạo (đơn vị mẫu)")


@pytest.fixture
def settings(database_url: str, engine: Engine, demo_pki: DemoPki) -> Settings:
    truncate_all(engine)
    return make_settings(database_url, signing_pkcs12=demo_pki.pkcs12, signing_pkcs12_password=demo_pki.password,
                         signing_trust_roots=demo_pki.ca_pem)
