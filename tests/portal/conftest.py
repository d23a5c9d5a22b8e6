"""The in-process mock portal for tests: its /_control endpoints need the control token, which
every test client built here sends."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from app.portal.client import PortalClient
from app.portal.mock import create_mock_portal
from app.portal.mock_contract import CONTROL_HEADER

with warnings.catch_warnings():  # starlette warns that it prefers httpx2; the installed httpx works
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

CONTROL_TOKEN = "test-control-token-0123456789"


def mock_portal(**kwargs: Any) -> TestClient:
    """A TestClient of the mock portal (control token set and sent)."""
    return TestClient(create_mock_portal(control_token=CONTROL_TOKEN, **kwargs), headers={CONTROL_HEADER: CONTROL_TOKEN})


@pytest.fixture
def portal() -> Iterator[TestClient]:
    with mock_portal() as client:
        yield client


@pytest.fixture
def portal_client(portal: TestClient) -> PortalClient:
    return PortalClient(base_url="http://testserver", username="motcua", password="motcua-demo", http=portal)
