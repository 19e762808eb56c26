import json
import os
import threading
from datetime import datetime

from . import conf

_lock = threading.Lock()
_path = os.path.join(conf.DATA_DIR, "bookings.json")


def _read():
    try:
        with open(_path, encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        return []


def add(instrument, start, end, badge):
    start_dt, end_dt = datetime.fromisoformat(start), datetime.fromisoformat(end)
    if end_dt <= start_dt:
        raise ValueError("end must be after start")
    with _lock:
        rows = _read()
        for row in rows:
            if row["instrument"] == instrument and start < row["end"] and row["start"] < end:
                raise ValueError("slot taken")
        booking = {"id": len(rows) + 1, "instrument": instrument, "start": start, "end": end, "badge": badge}
        rows.append(booking)
        with open(_path, "w", encoding="utf-8") as fh:
            json.dump(rows, fh)
        return booking


def cancel(booking_id, person):
    with _lock:
        rows = _read()
        match = next((r for r in rows if r["id"] == booking_id), None)
        if match is None or (match["badge"] != person["badge"] and not person["supervisor"]):
            return False
        rows.remove(match)
        with open(_path, "w", encoding="utf-8") as fh:
            json.dump(rows, fh)
        return True
