from fastapi import Depends, FastAPI, Header, HTTPException
from pydantic import BaseModel

from . import mailer, reset, security
from .store import store

app = FastAPI(title="clinic accounts")


class Credentials(BaseModel):
    email: str
    password: str


class ResetStart(BaseModel):
    email: str


class ResetFinish(BaseModel):
    account: int
    token: str
    new_password: str


def current_account(authorization: str = Header(default="")):
    scheme, _, token = authorization.partition(" ")
    account = security.session_account(token) if scheme == "Bearer" else None
    if account is None:
        raise HTTPException(status_code=401)
    return account


@app.post("/accounts", status_code=201)
def sign_up(body: Credentials):
    if store.by_email(body.email) or len(body.password) < 12:
        raise HTTPException(status_code=400, detail="cannot create account")
    digest, salt = security.hash_password(body.password)
    account = store.add_account(body.email, digest, salt, security.pick_colour())
    return {"id": account.id}


@app.post("/sessions")
def log_in(body: Credentials):
    account = store.by_email(body.email)
    if account is None or not security.check_password(account, body.password):
        raise HTTPException(status_code=401, detail="invalid credentials")
    return {"token": security.open_session(account.id)}


@app.post("/password-resets", status_code=202)
def start_reset(body: ResetStart):
    account = store.by_email(body.email)
    if account is not None:
        token = reset.issue_reset_token(account)
        mailer.send_reset_email(account.email, reset.reset_link(account.id, token))
    return {"status": "if the address is registered, an email is on its way"}


@app.post("/password-resets/complete")
def finish_reset(body: ResetFinish):
    if not reset.redeem_reset_token(body.account, body.token, body.new_password):
        raise HTTPException(status_code=400, detail="invalid or expired link")
    return {"status": "password changed"}


@app.get("/me")
def me(account=Depends(current_account)):
    return {"id": account.id, "email": account.email, "colour": account.display_colour}
