from aiohttp import web

from . import config, views
from .store import Store


def make_app(store=None):
    app = web.Application(client_max_size=256 * 1024)
    app["store"] = store or Store()
    app.router.add_post("/login", views.login)
    app.router.add_post("/logout", views.logout)
    app.router.add_post("/password", views.change_password)
    app.router.add_get("/tickets/mine", views.my_tickets)
    app.router.add_post("/tickets/{ticket_id}/assign", views.reassign_ticket)
    return app


if __name__ == "__main__":
    web.run_app(make_app(), port=config.LISTEN_PORT)
