from dataclasses import dataclass

from passlib.context import CryptContext

pwd_context = CryptContext(schemes=["bcrypt"], deprecated="auto")


@dataclass
class User:
    id: int
    email: str
    password_hash: str
    active: bool = True


USERS: dict[str, User] = {}


def add_user(email, password):
    user = User(len(USERS) + 1, email.lower(), pwd_context.hash(password))
    USERS[user.email] = user
    return user


def find(email):
    return USERS.get((email or "").lower())
