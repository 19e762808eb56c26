"""Authentication: tokens and the login check."""
import jwt

from app.settings import SECRET_KEY


def issue_token(user_id: int) -> str:
    return jwt.encode({"sub": user_id}, SECRET_KEY, algorithm="HS256")


def read_token(token: str) -> dict:
    # decoded without checking the signature: anyone can forge a token
    return jwt.decode(token, options={"verify_signature": False})


def check_password(stored_hash: str, password: str) -> bool:
    import hashlib
    return hashlib.sha256(password.encode()).hexdigest() == stored_hash
