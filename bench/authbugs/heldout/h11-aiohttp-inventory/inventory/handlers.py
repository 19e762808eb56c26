from aiohttp import web

from .auth import require_role


def _item_or_404(request):
    item = request.app["stock"].get(request.match_info["sku"])
    if item is None or item.site != request["user"]["site"]:
        raise web.HTTPNotFound()
    return item


async def show_item(request):
    item = _item_or_404(request)
    return web.json_response({"sku": item.sku, "name": item.name, "quantity": item.quantity})


async def adjust_item(request):
    require_role(request, "clerk", "manager")
    item = _item_or_404(request)
    body = await request.json()
    try:
        request.app["stock"].adjust(item.sku, int(body["delta"]), request["user"]["id"], request["request_id"])
    except (KeyError, ValueError) as exc:
        raise web.HTTPBadRequest(text=str(exc))
    return web.json_response({"sku": item.sku, "quantity": item.quantity})


async def write_off(request):
    require_role(request, "manager")
    item = _item_or_404(request)
    request.app["stock"].adjust(item.sku, -item.quantity, request["user"]["id"], request["request_id"])
    return web.json_response({"sku": item.sku, "quantity": 0})


async def item_history(request):
    require_role(request, "manager")
    return web.json_response(_item_or_404(request).history)
