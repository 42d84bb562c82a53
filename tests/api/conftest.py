"""Fixtures for the API tests."""

import pytest
from rest_framework.test import APIClient


@pytest.fixture
def bearer(db):
    """bearer(token) -> an APIClient sending that key."""

    def make(token: str) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        return client

    return make
