from decimal import Decimal, InvalidOperation

import jwt
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from . import security, store

app = FastAPI(title="invoices")
bearer = HTTPBearer()


def caller(creds: HTTPAuthorizationCredentials = Depends(bearer)):
    try:
        return security.decode_access_token(creds.credentials)
    except jwt.PyJWTError:
        raise HTTPException(status_code=401, detail="invalid token")


def partner(creds: HTTPAuthorizationCredentials = Depends(bearer)):
    try:
        return security.decode_partner_token(creds.credentials)
    except (jwt.PyJWTError, OSError):
        raise HTTPException(status_code=401, detail="invalid partner token")


@app.get("/invoices")
def my_invoices(claims=Depends(caller)):
    return [i.public() for i in store.for_customer(claims["sub"])]


@app.post("/invoices", status_code=201)
async def create_invoice(request: Request, claims=Depends(caller)):
    if "invoices:write" not in claims.get("scopes", []):
        raise HTTPException(status_code=403)
    body = await request.json()
    try:
        amount = Decimal(str(body["amount"]))
    except (KeyError, InvalidOperation):
        raise HTTPException(status_code=400, detail="amount required")
    invoice = store.add(store.Invoice(customer_id=claims["sub"], amount=amount, currency=body.get("currency", "EUR")))
    return invoice.public()


@app.post("/partner/invoices/{invoice_id}/paid")
def mark_paid(invoice_id: int, claims=Depends(partner)):
    invoice = store.INVOICES.get(invoice_id)
    if invoice is None:
        raise HTTPException(status_code=404)
    invoice.status = "paid"
    return {"id": invoice.id, "status": invoice.status, "by": claims["sub"]}
