import os

import pytest

os.environ.setdefault("INVOICES_JWT_SECRET", "unit-test-signing-key-not-for-production")


@pytest.fixture(autouse=True)
def public_key(tmp_path, monkeypatch):
    path = tmp_path / "pub.pem"
    path.write_text("-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n")
    monkeypatch.setenv("INVOICES_JWT_PUBLIC_KEY_FILE", str(path))
    from invoices.config import get_settings

    get_settings.cache_clear()


def test_round_trip():
    from invoices import security

    token = security.create_access_token(42, ["invoices:read"])
    assert security.decode_access_token(token)["sub"] == "42"
