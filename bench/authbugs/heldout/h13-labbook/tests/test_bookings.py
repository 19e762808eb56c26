import importlib

import pytest


@pytest.fixture
def bookings(tmp_path, monkeypatch):
    monkeypatch.setenv("LABBOOK_DATA", str(tmp_path))
    from labbook import bookings as mod, conf

    importlib.reload(conf)
    return importlib.reload(mod)


def test_overlap_is_refused(bookings):
    bookings.add("nmr-1", "2026-03-01T09:00", "2026-03-01T10:00", "b1")
    with pytest.raises(ValueError):
        bookings.add("nmr-1", "2026-03-01T09:30", "2026-03-01T11:00", "b2")


def test_only_owner_or_supervisor_cancels(bookings):
    booking = bookings.add("nmr-1", "2026-03-02T09:00", "2026-03-02T10:00", "b1")
    assert not bookings.cancel(booking["id"], {"badge": "b2", "supervisor": False})
    assert bookings.cancel(booking["id"], {"badge": "b3", "supervisor": True})
