from datetime import datetime, timedelta, timezone

from app import reset, security
from app.store import store


def make_account():
    digest, salt = security.hash_password("initial password 1")
    return store.add_account(f"p{len(store.accounts)}@example.org", digest, salt, "teal")


def test_token_is_single_use():
    account = make_account()
    token = reset.issue_reset_token(account)
    assert reset.redeem_reset_token(account.id, token, "a brand new password")
    assert not reset.redeem_reset_token(account.id, token, "another new password")


def test_expired_token_is_refused():
    account = make_account()
    token = reset.issue_reset_token(account)
    store.resets[account.id].expires_at = datetime.now(timezone.utc) - timedelta(seconds=1)
    assert not reset.redeem_reset_token(account.id, token, "a brand new password")
