import hmac

from fastapi import Header, HTTPException

from . import settings
from .keys import find_client


def require_client(x_api_key: str = Header(default="")):
    client = find_client(x_api_key)
    if client is None:
        raise HTTPException(status_code=401, detail="unknown api key")
    return client


def require_admin(authorization: str = Header(default="")):
    scheme, _, token = authorization.partition(" ")
    if scheme != "Bearer" or not token or not settings.ADMIN_TOKEN:
        raise HTTPException(status_code=401)
    if not hmac.compare_digest(token.encode(), settings.ADMIN_TOKEN.encode()):
        raise HTTPException(status_code=401)
    return "admin"
