import os

from flask import Flask

from .models import db


def create_app():
    app = Flask(__name__)
    app.config["SECRET_KEY"] = os.environ["RECIPES_SECRET_KEY"]
    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ.get("RECIPES_DB", "sqlite:///recipes.db")
    db.init_app(app)
    from .views import bp

    app.register_blueprint(bp)
    return app
