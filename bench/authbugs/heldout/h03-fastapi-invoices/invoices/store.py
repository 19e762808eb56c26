from dataclasses import asdict, dataclass, field
from decimal import Decimal
from itertools import count

_ids = count(1)


@dataclass
class Invoice:
    customer_id: str
    amount: Decimal
    currency: str
    status: str = "draft"
    id: int = field(default_factory=lambda: next(_ids))

    def public(self):
        data = asdict(self)
        data["amount"] = str(self.amount)
        return data


INVOICES: dict[int, Invoice] = {}


def add(invoice):
    INVOICES[invoice.id] = invoice
    return invoice


def for_customer(customer_id):
    return [i for i in INVOICES.values() if i.customer_id == customer_id]
