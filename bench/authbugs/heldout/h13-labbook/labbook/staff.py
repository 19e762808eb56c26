import hashlib
import hmac
import json
import secrets
import time

from . import conf

_sessions = {}


def load_staff():
    with open(conf.STAFF_FILE, encoding="utf-8") as fh:
        entries = json.load(fh)
    return {e["badge"]: e for e in entries}


def check_login(badge, password):
    person = load_staff().get(badge)
    if person is None:
        return None
    if not hmac.compare_digest(person["password"].encode(), password.encode()):
        return None
    return {"badge": badge, "name": person["name"], "supervisor": bool(person.get("supervisor"))}


def start_session(person):
    token = secrets.token_hex(32)
    _sessions[hashlib.sha256(token.encode()).hexdigest()] = (person, time.time() + conf.SESSION_HOURS * 3600)
    return token


def session_person(token):
    if not token:
        return None
    key = hashlib.sha256(token.encode()).hexdigest()
    entry = _sessions.get(key)
    if entry is None or entry[1] < time.time():
        _sessions.pop(key, None)
        return None
    return entry[0]
