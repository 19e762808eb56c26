import json
import os
import tempfile
import threading

from . import settings

_lock = threading.Lock()


def read_flags():
    try:
        with open(settings.FLAGS_FILE, encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        return {}


def set_flag(name, enabled, actor):
    with _lock:
        flags = read_flags()
        flags[name] = {"enabled": bool(enabled), "changed_by": actor}
        directory = os.path.dirname(settings.FLAGS_FILE)
        fd, tmp = tempfile.mkstemp(dir=directory)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(flags, fh, indent=2, sort_keys=True)
        os.replace(tmp, settings.FLAGS_FILE)
        return flags[name]
