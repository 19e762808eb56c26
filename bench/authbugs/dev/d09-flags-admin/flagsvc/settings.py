import os

USERS_FILE = os.environ.get("FLAGS_USERS_FILE", "/etc/flagsvc/users.json")
FLAGS_FILE = os.environ.get("FLAGS_STATE_FILE", "/var/lib/flagsvc/flags.json")
BIND = os.environ.get("FLAGS_BIND", "127.0.0.1")
PORT = int(os.environ.get("FLAGS_PORT", "8300"))
REALM = "feature-flags"
PBKDF2_ROUNDS = 310_000
