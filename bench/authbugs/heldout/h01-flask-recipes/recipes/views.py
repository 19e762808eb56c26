from flask import Blueprint, abort, g, jsonify, make_response, request, session

from .auth import login_required
from .models import Recipe, User, db

bp = Blueprint("recipes", __name__)


@bp.post("/signup")
def signup():
    data = request.get_json(force=True)
    if User.query.filter_by(email=data["email"]).first():
        return jsonify(error="unavailable"), 400
    user = User(email=data["email"])
    user.set_password(data["password"])
    db.session.add(user)
    db.session.commit()
    return jsonify(id=user.id), 201


@bp.post("/login")
def login():
    data = request.get_json(force=True)
    user = User.query.filter_by(email=data.get("email", "")).first()
    if user is None or not user.check_password(data.get("password", "")):
        return jsonify(error="invalid email or password"), 401
    session.clear()
    session["uid"] = user.id
    return jsonify(id=user.id, avatar=user.avatar_url())


@bp.post("/me/token")
@login_required
def new_token():
    token = g.user.rotate_api_token()
    db.session.commit()
    return jsonify(token=token)


@bp.get("/recipes/<int:recipe_id>")
@login_required
def show_recipe(recipe_id):
    recipe = db.session.get(Recipe, recipe_id)
    if recipe is None or not (recipe.public or recipe.author_id == g.user.id):
        abort(404)
    response = make_response(jsonify(title=recipe.title, body=recipe.body))
    response.set_etag(recipe.etag())
    return response
