from aiohttp import web

from . import config, handlers
from .auth import authenticate, request_id
from .stock import Stock


async def health(_request):
    return web.json_response({"ok": True})


def build():
    app = web.Application(middlewares=[request_id, authenticate])
    app["stock"] = Stock()
    app.router.add_get("/healthz", health)
    app.router.add_get("/items/{sku}", handlers.show_item)
    app.router.add_post("/items/{sku}/adjust", handlers.adjust_item)
    app.router.add_post("/items/{sku}/write-off", handlers.write_off)
    app.router.add_get("/items/{sku}/history", handlers.item_history)
    return app


if __name__ == "__main__":
    web.run_app(build(), port=config.PORT)
