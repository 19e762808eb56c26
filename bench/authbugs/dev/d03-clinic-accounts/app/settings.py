import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    public_url: str = os.environ.get("CLINIC_PUBLIC_URL", "http://localhost:8000")
    reset_ttl_minutes: int = int(os.environ.get("CLINIC_RESET_TTL_MINUTES", "30"))
    session_ttl_hours: int = 12
    smtp_host: str = os.environ.get("CLINIC_SMTP_HOST", "localhost")


settings = Settings()
