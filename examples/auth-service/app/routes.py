"""HTTP routes."""
from app.web import app, login_required, admin_required


@app.route("/orders")
@login_required
def list_orders():
    return []


@app.route("/admin/users")
@admin_required
def list_users():
    return []


@app.route("/admin/refund")
def refund():
    return {"refunded": True}
