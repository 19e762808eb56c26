import os
from functools import lru_cache
from pathlib import Path


class Settings:
    def __init__(self):
        self.jwt_secret = os.environ["INVOICES_JWT_SECRET"]
        self.jwt_public_key = Path(os.environ["INVOICES_JWT_PUBLIC_KEY_FILE"]).read_text()
        self.partner_keys_dir = Path(os.environ.get("INVOICES_PARTNER_KEYS", "/etc/invoices/partners"))
        self.audience = "invoices-api"
        self.access_minutes = 20


@lru_cache
def get_settings():
    return Settings()
