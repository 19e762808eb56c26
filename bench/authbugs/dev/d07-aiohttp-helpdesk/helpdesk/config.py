import os

SESSION_COOKIE = "hd_session"
SESSION_TTL_SECONDS = int(os.environ.get("HELPDESK_SESSION_TTL", "28800"))
COOKIE_SECURE = os.environ.get("HELPDESK_COOKIE_SECURE", "1") == "1"
LISTEN_PORT = int(os.environ.get("HELPDESK_PORT", "8081"))
