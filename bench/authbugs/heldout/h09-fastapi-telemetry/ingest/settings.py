import os

CLIENTS_FILE = os.environ.get("INGEST_CLIENTS_FILE", "/etc/ingest/clients.txt")
ADMIN_TOKEN = os.environ.get("INGEST_ADMIN_TOKEN", "")
MAX_BATCH = 500
