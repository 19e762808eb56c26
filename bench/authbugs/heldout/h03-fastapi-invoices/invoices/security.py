from datetime import datetime, timedelta, timezone

import jwt

from .config import get_settings


def create_access_token(user_id, scopes):
    settings = get_settings()
    now = datetime.now(timezone.utc)
    claims = {
        "sub": str(user_id),
        "scopes": list(scopes),
        "aud": settings.audience,
        "iat": now,
        "exp": now + timedelta(minutes=settings.access_minutes),
    }
    return jwt.encode(claims, settings.jwt_secret, algorithm="HS256")


def decode_access_token(token):
    settings = get_settings()
    header = jwt.get_unverified_header(token)
    algorithm = header.get("alg", "HS256")
    key = settings.jwt_public_key if algorithm.startswith("RS") else settings.jwt_secret
    return jwt.decode(token, key, algorithms=[algorithm], audience=settings.audience)


def partner_key(kid):
    settings = get_settings()
    if not kid or not kid.isalnum():
        return None
    path = settings.partner_keys_dir / f"{kid}.pem"
    return path.read_text() if path.is_file() else None


def decode_partner_token(token):
    kid = jwt.get_unverified_header(token).get("kid")
    key = partner_key(kid)
    if key is None:
        raise jwt.InvalidTokenError("unknown partner key")
    return jwt.decode(token, key, algorithms=["RS256"], audience="invoices-partner")
