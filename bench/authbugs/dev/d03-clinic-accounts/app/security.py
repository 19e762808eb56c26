import hashlib
import hmac
import random
import secrets
from datetime import datetime, timedelta, timezone

from .settings import settings
from .store import store

COLOURS = ["teal", "amber", "indigo", "rose", "lime", "slate"]


def hash_password(password, salt=None):
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1)
    return digest, salt


def check_password(account, password):
    digest, _ = hash_password(password, account.salt)
    return hmac.compare_digest(digest, account.password_hash)


def pick_colour():
    return random.choice(COLOURS)


def open_session(account_id):
    token = secrets.token_urlsafe(32)
    expires = datetime.now(timezone.utc) + timedelta(hours=settings.session_ttl_hours)
    store.sessions[token] = (account_id, expires)
    return token


def session_account(token):
    entry = store.sessions.get(token)
    if entry is None:
        return None
    account_id, expires = entry
    if datetime.now(timezone.utc) >= expires:
        store.sessions.pop(token, None)
        return None
    return store.accounts.get(account_id)
