"""/healthz, /ess/schema, /ess/docs, and the JSON error shape for 404, 405 and 500 under /ess/."""

import pytest
from django.db import connection
from django.test import Client

from tests.fixtures.processes import free_port


def test_healthz_is_ok_without_a_key(anon, db):
    response = anon.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_healthz_is_503_json_when_the_database_is_unreachable(django_db_blocker, monkeypatch):
    # A real refused connection: the database settings point at a port nobody listens on.
    with django_db_blocker.unblock():
        connection.close()
        monkeypatch.setitem(connection.settings_dict, "PORT", free_port())
        try:
            response = Client().get("/healthz")
        finally:
            connection.close()
    assert response.status_code == 503
    body = response.json()
    assert body["database"] == "unreachable"
    assert set(body) >= {"error", "detail"}


def test_schema_is_openapi_3_json_without_a_key(anon, db):
    response = anon.get("/ess/schema")
    assert response.status_code == 200
    assert "json" in response["Content-Type"]
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert {"/ess/publish", "/ess/register", "/ess/events", "/ess/status", "/healthz"} <= set(schema["paths"])


def test_docs_page_serves_swagger(anon, db):
    response = anon.get("/ess/docs")
    assert response.status_code == 200
    assert b"swagger" in response.content.lower()


@pytest.mark.parametrize("path", ["/ess/nothing-here", "/ess/publish/", "/ess", "/ess/events/extra"])
def test_unknown_paths_under_ess_are_json_404(api, path):
    response = api.get(path)
    assert response.status_code == 404
    assert response.json() == {"error": "not found", "detail": path}


def test_unknown_paths_under_ess_are_json_404_with_debug_on(api, settings):
    settings.DEBUG = True
    response = api.get("/ess/nothing-here")
    assert response.status_code == 404
    assert response.json()["error"] == "not found"


def test_wrong_method_under_ess_is_json_405(api):
    response = api.get("/ess/publish")
    assert response.status_code == 405
    assert set(response.json()) == {"error", "detail"}
    assert api.delete("/ess/status").status_code == 405


def test_admin_404_keeps_djangos_html_page(admin_client):
    response = admin_client.get("/admin/hub/no-such-model/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_page_outside_ess_is_an_html_404(client, db):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_server_error_under_ess_is_json_without_a_traceback(make_key, settings):
    # A real server-side fault: no encryption key configured, so the secret cannot be stored.
    settings.ESS_ENCRYPTION_KEYS = []
    settings.ESS_ALLOW_PRIVATE_NETWORKS = ["127.0.0.0/8"]
    client = Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Bearer {make_key()}")
    response = client.post(
        "/ess/register",
        {"id": "a", "url": "https://127.0.0.1/h", "topics": ["#"]},
        content_type="application/json",
    )
    assert response.status_code == 500
    assert response.json() == {"error": "internal error", "detail": None}


@pytest.mark.parametrize("path", ["/ess/docs", "/ess/schema", "/healthz"])
def test_wrong_method_on_public_pages_is_json_405(anon, db, path):
    response = anon.post(path)
    assert response.status_code == 405
    assert set(response.json()) == {"error", "detail"}
