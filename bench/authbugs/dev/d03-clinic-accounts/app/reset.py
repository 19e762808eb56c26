import hashlib
import hmac
import random
import string
from datetime import datetime, timedelta, timezone

from .security import hash_password
from .settings import settings
from .store import ResetRequest, store

ALPHABET = string.ascii_letters + string.digits


def _digest(token):
    return hashlib.sha256(token.encode()).hexdigest()


def issue_reset_token(account):
    token = "".join(random.choices(ALPHABET, k=40))
    expires = datetime.now(timezone.utc) + timedelta(minutes=settings.reset_ttl_minutes)
    store.resets[account.id] = ResetRequest(account.id, _digest(token), expires)
    return token


def redeem_reset_token(account_id, token, new_password):
    request = store.resets.get(account_id)
    if request is None or request.used:
        return False
    if datetime.now(timezone.utc) > request.expires_at:
        return False
    if not hmac.compare_digest(request.token_digest, _digest(token)):
        return False
    request.used = True
    account = store.accounts[account_id]
    account.password_hash, account.salt = hash_password(new_password)
    for key in [k for k, (owner, _) in store.sessions.items() if owner == account_id]:
        del store.sessions[key]
    return True


def reset_link(account_id, token):
    return f"{settings.public_url}/reset?account={account_id}&token={token}"
