import hashlib
import hmac
import os

os.environ.setdefault("SHIPPING_CARRIER_WEBHOOK_KEY", "test-webhook-key")

from shipping import create_app  # noqa: E402
from shipping.security import carrier_signature_ok  # noqa: E402


def test_valid_signature_is_accepted():
    app = create_app()
    body = b'{"tracking": "T1", "status": "delivered"}'
    sig = hmac.new(os.environ["SHIPPING_CARRIER_WEBHOOK_KEY"].encode(), body, hashlib.sha256).hexdigest()
    with app.app_context():
        assert carrier_signature_ok(body, f"sha256={sig}")
        assert not carrier_signature_ok(body, "sha256=")
