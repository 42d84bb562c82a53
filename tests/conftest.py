"""Fixtures for real parts: PostgreSQL (via DATABASE_URL), API keys, clients.

Receivers, worker processes and the web server live in tests/fixtures/.
"""

import pytest
from rest_framework.test import APIClient

pytest_plugins = ["tests.fixtures.receivers", "tests.fixtures.processes"]


@pytest.fixture
def make_key(db):
    from hub.services.keys import api_key_create

    def make(scopes=("publish", "register", "read"), subscriber=None, name="test"):
        _, token = api_key_create(name=name, scopes=list(scopes), subscriber=subscriber)
        return token

    return make


@pytest.fixture
def api(make_key):
    """An APIClient holding a key with every scope."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {make_key()}")
    return client


@pytest.fixture
def anon():
    return APIClient()
