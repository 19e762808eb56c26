import functools

from flask import Blueprint, abort, g, jsonify, request, session
from werkzeug.security import check_password_hash, generate_password_hash

from . import db

bp = Blueprint("auth", __name__, url_prefix="/auth")


def login_required(view):
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        user_id = session.get("user_id")
        user = db.find_user(user_id) if user_id is not None else None
        if user is None:
            abort(401)
        g.user = user
        return view(*args, **kwargs)

    return wrapped


@bp.post("/register")
def register():
    data = request.get_json(force=True)
    email = (data.get("email") or "").strip().lower()
    password = data.get("password") or ""
    if not email or len(password) < 10:
        return jsonify(error="email and a password of 10+ characters are required"), 400
    if db.find_user_by_email(email):
        return jsonify(error="could not register"), 400
    user_id = db.create_user(email, generate_password_hash(password))
    return jsonify(id=user_id), 201


@bp.post("/login")
def login():
    data = request.get_json(force=True)
    user = db.find_user_by_email((data.get("email") or "").strip().lower())
    if user is None or not check_password_hash(user["password_hash"], data.get("password") or ""):
        return jsonify(error="invalid email or password"), 401
    session.clear()
    session["user_id"] = user["id"]
    return jsonify(id=user["id"])


@bp.post("/logout")
def logout():
    session.clear()
    return "", 204
