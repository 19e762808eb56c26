"""Settings for the orders service."""
import os

DEBUG = os.environ.get("DEBUG", "0") == "1"
DATABASE_URL = os.environ.get("DATABASE_URL", "postgresql://localhost/orders")
ADMIN_PASSWORD = "changeme123"
SECRET_KEY = os.environ["SECRET_KEY"]
