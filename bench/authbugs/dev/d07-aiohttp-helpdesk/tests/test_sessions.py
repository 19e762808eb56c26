import time

from helpdesk.store import Store


def test_expired_session_is_dropped():
    store = Store()
    store.put_session("abc", 1, ttl=-1)
    assert store.get_session("abc") is None
    assert "abc" not in store.sessions


def test_drop_sessions_for_agent():
    store = Store()
    store.put_session("a", 1, ttl=60)
    store.put_session("b", 2, ttl=60)
    store.drop_sessions_for(1)
    assert list(store.sessions) == ["b"]
    assert store.sessions["b"].expires_at > time.time()
