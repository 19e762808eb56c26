from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import VerifyMismatchError

_ph = PasswordHasher()


@dataclass
class Customer:
    id: int
    email: str
    password_hash: str


CUSTOMERS: dict[str, Customer] = {}


def register(email, password):
    customer = Customer(len(CUSTOMERS) + 1, email.lower(), _ph.hash(password))
    CUSTOMERS[customer.email] = customer
    return customer


def check(email, password):
    customer = CUSTOMERS.get((email or "").lower())
    if customer is None:
        return None
    try:
        _ph.verify(customer.password_hash, password)
    except VerifyMismatchError:
        return None
    return customer
