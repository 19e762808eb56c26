import secrets

from aiohttp import web

from . import config
from .passwords import hash_password, verify_password


def _store(request):
    return request.app["store"]


def current_agent(request):
    sid = request.cookies.get(config.SESSION_COOKIE)
    session = _store(request).get_session(sid) if sid else None
    if session is None:
        raise web.HTTPUnauthorized()
    return _store(request).agents[session.agent_id]


async def login(request):
    data = await request.json()
    agent = _store(request).agent_by_email(str(data.get("email", "")).lower())
    if agent is None or not verify_password(agent.password_hash, str(data.get("password", ""))):
        raise web.HTTPUnauthorized(text="invalid credentials")
    sid = secrets.token_urlsafe(32)
    _store(request).put_session(sid, agent.id, config.SESSION_TTL_SECONDS)
    response = web.json_response({"id": agent.id, "role": agent.role})
    response.set_cookie(config.SESSION_COOKIE, sid, httponly=True, secure=config.COOKIE_SECURE, samesite="Lax")
    return response


async def logout(request):
    current_agent(request)
    response = web.json_response({"ok": True})
    response.del_cookie(config.SESSION_COOKIE)
    return response


async def change_password(request):
    agent = current_agent(request)
    data = await request.json()
    if not verify_password(agent.password_hash, str(data.get("current", ""))):
        raise web.HTTPForbidden()
    new = str(data.get("new", ""))
    if len(new) < 12:
        raise web.HTTPBadRequest(text="password too short")
    agent.password_hash = hash_password(new)
    _store(request).drop_sessions_for(agent.id)
    return web.json_response({"ok": True, "signed_out_everywhere": True})


async def my_tickets(request):
    agent = current_agent(request)
    tickets = [t for t in _store(request).tickets.values() if t.assignee_id == agent.id]
    return web.json_response([{"id": t.id, "subject": t.subject, "status": t.status} for t in tickets])


async def reassign_ticket(request):
    agent = current_agent(request)
    if agent.role != "lead":
        raise web.HTTPForbidden()
    ticket = _store(request).tickets.get(int(request.match_info["ticket_id"]))
    if ticket is None:
        raise web.HTTPNotFound()
    data = await request.json()
    ticket.assignee_id = int(data["assignee_id"])
    return web.json_response({"id": ticket.id, "assignee_id": ticket.assignee_id})
