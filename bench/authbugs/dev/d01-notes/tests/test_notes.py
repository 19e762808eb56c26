import os

import pytest

os.environ.setdefault("NOTES_SECRET_KEY", "test-only-key")

from notes import create_app  # noqa: E402


@pytest.fixture
def client(tmp_path):
    app = create_app({"DATABASE": str(tmp_path / "t.sqlite3"), "TESTING": True})
    return app.test_client()


def signup(client, email):
    password = os.environ.get("NOTES_TEST_PASSWORD", "correct horse battery")
    client.post("/auth/register", json={"email": email, "password": password})
    client.post("/auth/login", json={"email": email, "password": password})


def test_notes_are_private(client):
    signup(client, "a@example.com")
    note_id = client.post("/notes", json={"title": "t", "body": "b"}).get_json()["id"]
    client.post("/auth/logout")
    signup(client, "b@example.com")
    assert client.get(f"/notes/{note_id}").status_code == 404


def test_requires_login(client):
    assert client.get("/notes").status_code == 401
