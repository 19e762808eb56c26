from dataclasses import dataclass, field


@dataclass
class Item:
    sku: str
    site: str
    name: str
    quantity: int = 0
    history: list = field(default_factory=list)


class Stock:
    def __init__(self):
        self.items = {}

    def get(self, sku):
        return self.items.get(sku)

    def adjust(self, sku, delta, actor, request_id):
        item = self.items[sku]
        if item.quantity + delta < 0:
            raise ValueError("stock cannot go negative")
        item.quantity += delta
        item.history.append({"delta": delta, "by": actor, "request": request_id})
        return item
