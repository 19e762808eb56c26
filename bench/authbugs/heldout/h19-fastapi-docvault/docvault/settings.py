import os

STORAGE_ROOT = os.environ.get("DOCVAULT_STORAGE", "/srv/docvault")
TOKEN_TTL_MINUTES = 60
MAX_UPLOAD_BYTES = 25 * 1024 * 1024
