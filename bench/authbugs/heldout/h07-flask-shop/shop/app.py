import os

from flask import Flask, g, jsonify, request

from . import auth, users
from .sessions import SESSION_COOKIE, store

app = Flask(__name__)
app.config["SECRET_KEY"] = os.environ["SHOP_SECRET_KEY"]


@app.before_request
def load_session():
    g.sid = request.cookies.get(SESSION_COOKIE)
    g.session = store.get(g.sid)
    if g.session is None:
        g.sid = store.create(cart=[])
        g.session = store.get(g.sid)


@app.after_request
def save_cookie(response):
    response.set_cookie(SESSION_COOKIE, g.sid, httponly=True, secure=True, samesite="Lax")
    return response


@app.post("/cart")
def add_to_cart():
    item = request.get_json(force=True).get("sku")
    g.session.setdefault("cart", []).append(str(item))
    return jsonify(cart=g.session["cart"])


@app.post("/login")
def login():
    data = request.get_json(force=True)
    customer = users.check(data.get("email"), data.get("password", ""))
    if customer is None:
        return jsonify(error="invalid email or password"), 401
    g.sid = auth.log_in(g.sid, customer)
    return jsonify(ok=True)


@app.post("/account/confirm")
def confirm():
    customer_id = g.session.get("customer_id")
    customer = users.check(request.get_json(force=True).get("email"), request.get_json(force=True).get("password", ""))
    if customer is None or customer.id != customer_id:
        return jsonify(error="password required"), 403
    g.sid = auth.confirm_password(g.sid, customer)
    return jsonify(ok=True)


@app.post("/account/email")
def change_email():
    if not g.session.get("customer_id") or not auth.recently_confirmed(g.session):
        return jsonify(error="confirm your password first"), 403
    return jsonify(ok=True)


@app.post("/logout")
def logout():
    auth.log_out(g.sid)
    g.sid = store.create(cart=[])
    return jsonify(ok=True)
