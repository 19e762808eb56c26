import hmac
from dataclasses import dataclass
from functools import lru_cache

from . import settings


@dataclass(frozen=True)
class Client:
    client_id: str
    key: str
    enabled: bool


def parse_clients(text):
    clients = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        client_id, _, key = line.partition(":")
        key = key.strip()
        clients.append(Client(client_id.strip(), key, enabled=bool(key)))
    return clients


@lru_cache(maxsize=1)
def load_clients():
    with open(settings.CLIENTS_FILE, encoding="utf-8") as fh:
        return tuple(parse_clients(fh.read()))


def find_client(presented):
    match = None
    for client in load_clients():
        if hmac.compare_digest(client.key.encode(), presented.encode()):
            match = client
    return match
