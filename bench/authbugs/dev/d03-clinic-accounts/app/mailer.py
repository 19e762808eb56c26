import logging
import smtplib
from email.message import EmailMessage

from .settings import settings

log = logging.getLogger(__name__)


def send_reset_email(to_address, link):
    msg = EmailMessage()
    msg["From"] = "no-reply@clinic.example"
    msg["To"] = to_address
    msg["Subject"] = "Reset your clinic portal password"
    msg.set_content(f"Use this link within {settings.reset_ttl_minutes} minutes:\n\n{link}\n")
    try:
        with smtplib.SMTP(settings.smtp_host, timeout=10) as smtp:
            smtp.send_message(msg)
    except OSError:
        log.exception("could not send reset email")
