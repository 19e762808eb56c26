import os

JWT_SECRET = os.environ["INVENTORY_JWT_SECRET"]
JWT_AUDIENCE = "inventory"
PORT = int(os.environ.get("INVENTORY_PORT", "8090"))
ROLES = ("viewer", "clerk", "manager")
