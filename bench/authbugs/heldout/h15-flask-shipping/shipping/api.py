from flask import Blueprint, abort, g, jsonify, request

from . import shipments
from .security import require_api_token

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.post("/shipments")
@require_api_token
def create_shipment():
    data = request.get_json(force=True)
    if "@" not in data.get("recipient_email", ""):
        abort(400)
    shipment = shipments.create(g.client, data["recipient_email"], data.get("carrier", "dhl"))
    return jsonify(id=shipment.id, status=shipment.status), 201


@bp.get("/shipments/<int:shipment_id>")
@require_api_token
def get_shipment(shipment_id):
    shipment = shipments.SHIPMENTS.get(shipment_id)
    if shipment is None or shipment.client != g.client:
        abort(404)
    return jsonify(id=shipment.id, status=shipment.status, tracking=shipment.tracking, events=shipment.events)
