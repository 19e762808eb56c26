"""Calls to the payment provider."""
import requests

PROVIDER = "https://payments.example.com/api"


def charge(amount_cents: int, card_token: str) -> dict:
    response = requests.post(f"{PROVIDER}/charge", json={"amount": amount_cents, "card": card_token}, verify=False, timeout=10)
    return response.json()
