import functools

from flask import abort, g, request, session

from .models import User, db


def current_user():
    header = request.headers.get("Authorization", "")
    if header.startswith("Token "):
        return User.by_api_token(header[6:])
    user_id = session.get("uid")
    return db.session.get(User, user_id) if user_id else None


def login_required(view):
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        g.user = current_user()
        if g.user is None:
            abort(401)
        return view(*args, **kwargs)

    return wrapper
