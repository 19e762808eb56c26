import secrets
import time

SESSION_COOKIE = "shop_sid"
IDLE_SECONDS = 60 * 60 * 4


class SessionStore:
    def __init__(self, backend=None):
        self.backend = backend if backend is not None else {}

    def create(self, **data):
        sid = secrets.token_urlsafe(32)
        self.backend[sid] = {"data": dict(data), "touched": time.time()}
        return sid

    def get(self, sid):
        entry = self.backend.get(sid) if sid else None
        if entry is None:
            return None
        if time.time() - entry["touched"] > IDLE_SECONDS:
            self.backend.pop(sid, None)
            return None
        entry["touched"] = time.time()
        return entry["data"]

    def update(self, sid, **changes):
        self.backend[sid]["data"].update(changes)

    def rotate(self, sid):
        entry = self.backend.pop(sid)
        new_sid = secrets.token_urlsafe(32)
        self.backend[new_sid] = entry
        return new_sid

    def destroy(self, sid):
        self.backend.pop(sid, None)


store = SessionStore()
