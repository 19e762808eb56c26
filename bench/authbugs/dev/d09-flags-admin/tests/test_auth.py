import base64
import json
import os

from flagsvc import auth, settings


def test_parse_basic_round_trip():
    header = "Basic " + base64.b64encode(b"alice:s3cret:with:colons").decode()
    assert auth.parse_basic(header) == ("alice", "s3cret:with:colons")


def test_unknown_user_is_refused(tmp_path, monkeypatch):
    users = tmp_path / "users.json"
    salt = os.urandom(16).hex()
    password = os.environ.get("FLAGS_TEST_PASSWORD", "only-for-tests")
    users.write_text(json.dumps({"alice": {"salt": salt, "hash": auth.hash_password(password, salt, 1000), "rounds": 1000}}))
    monkeypatch.setattr(settings, "USERS_FILE", str(users))
    auth.load_users.cache_clear()
    assert auth.authenticate("alice", password)["role"] == "viewer"
    assert auth.authenticate("mallory", password) is None
