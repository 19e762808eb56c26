import json

from flask import Blueprint, abort, request

from . import shipments
from .security import carrier_signature_ok

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")


@bp.post("/carrier/<carrier>")
def carrier_event(carrier):
    body = request.get_data()
    if not carrier_signature_ok(body, request.headers.get("X-Carrier-Signature")):
        abort(401)
    event = json.loads(body)
    shipment = shipments.by_tracking(carrier, event.get("tracking", ""))
    if shipment is None:
        return "", 202
    shipment.status = str(event.get("status", shipment.status))[:32]
    shipment.events.append({"status": shipment.status, "at": event.get("at")})
    return "", 204
