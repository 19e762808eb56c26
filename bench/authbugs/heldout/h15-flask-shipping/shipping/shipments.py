import itertools
from dataclasses import dataclass, field

_ids = itertools.count(1000)


@dataclass
class Shipment:
    client: str
    recipient_email: str
    carrier: str
    tracking: str = ""
    status: str = "created"
    events: list = field(default_factory=list)
    id: int = field(default_factory=lambda: next(_ids))


SHIPMENTS: dict[int, Shipment] = {}


def create(client, recipient_email, carrier):
    shipment = Shipment(client, recipient_email.strip().lower(), carrier.upper())
    SHIPMENTS[shipment.id] = shipment
    return shipment


def by_tracking(carrier, tracking):
    carrier = carrier.upper()
    return next((s for s in SHIPMENTS.values() if s.carrier == carrier and s.tracking == tracking), None)
