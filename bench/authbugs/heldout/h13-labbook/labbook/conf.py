import os

STAFF_FILE = os.environ.get("LABBOOK_STAFF_FILE", "/etc/labbook/staff.json")
DATA_DIR = os.environ.get("LABBOOK_DATA", "/var/lib/labbook")
HOST = os.environ.get("LABBOOK_HOST", "0.0.0.0")
PORT = int(os.environ.get("LABBOOK_PORT", "8400"))
SESSION_HOURS = 10
