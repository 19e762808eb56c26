import time

from .sessions import store


def log_in(sid, customer):
    data = store.get(sid)
    if data is None:
        sid = store.create()
    store.update(sid, customer_id=customer.id, authenticated_at=time.time())
    return sid


def confirm_password(sid, customer):
    new_sid = store.rotate(sid)
    store.update(new_sid, customer_id=customer.id, reauthenticated_at=time.time())
    return new_sid


def recently_confirmed(data, max_age=300):
    return bool(data) and time.time() - data.get("reauthenticated_at", 0) < max_age


def log_out(sid):
    store.destroy(sid)
