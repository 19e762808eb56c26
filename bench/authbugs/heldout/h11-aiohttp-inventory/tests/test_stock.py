import pytest

from inventory.stock import Item, Stock


def test_adjust_refuses_negative_stock():
    stock = Stock()
    stock.items["A1"] = Item("A1", "north", "bolts", quantity=2)
    stock.adjust("A1", -2, "u1", "r1")
    with pytest.raises(ValueError):
        stock.adjust("A1", -1, "u1", "r2")
