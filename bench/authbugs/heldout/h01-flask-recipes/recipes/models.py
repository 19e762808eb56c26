import hashlib
import hmac
import secrets
from datetime import datetime

from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy()


def _password_digest(password):
    return hashlib.md5(password.encode("utf-8")).hexdigest()


class User(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    email = db.Column(db.String(255), unique=True, nullable=False)
    password_hash = db.Column(db.String(128), nullable=False)
    api_token_digest = db.Column(db.String(64), unique=True)
    recipes = db.relationship("Recipe", backref="author", lazy=True)

    def set_password(self, password):
        self.password_hash = _password_digest(password)

    def check_password(self, password):
        return hmac.compare_digest(self.password_hash, _password_digest(password))

    def rotate_api_token(self):
        token = secrets.token_urlsafe(32)
        self.api_token_digest = hashlib.sha256(token.encode()).hexdigest()
        return token

    @staticmethod
    def by_api_token(token):
        digest = hashlib.sha256(token.encode()).hexdigest()
        return User.query.filter_by(api_token_digest=digest).first()

    def avatar_url(self):
        email_hash = hashlib.md5(self.email.strip().lower().encode()).hexdigest()
        return f"https://www.gravatar.com/avatar/{email_hash}?d=identicon"


class Recipe(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    author_id = db.Column(db.Integer, db.ForeignKey("user.id"), nullable=False)
    title = db.Column(db.String(200), nullable=False)
    body = db.Column(db.Text, nullable=False, default="")
    public = db.Column(db.Boolean, default=False)
    updated_at = db.Column(db.DateTime, default=datetime.utcnow, onupdate=datetime.utcnow)

    def etag(self):
        stamp = f"{self.id}:{self.updated_at.isoformat()}"
        return hashlib.md5(stamp.encode()).hexdigest()
