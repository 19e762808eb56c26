import os

from flask import Flask


def create_app():
    app = Flask(__name__)
    app.config["CARRIER_WEBHOOK_KEY"] = os.environ["SHIPPING_CARRIER_WEBHOOK_KEY"].encode()
    app.config["API_TOKEN_DIGESTS"] = [d for d in os.environ.get("SHIPPING_API_TOKEN_DIGESTS", "").split(",") if d]
    from . import api, webhooks

    app.register_blueprint(api.bp)
    app.register_blueprint(webhooks.bp)
    return app
