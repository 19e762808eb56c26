import threading
from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class Account:
    id: int
    email: str
    password_hash: bytes
    salt: bytes
    display_colour: str = "teal"


@dataclass
class ResetRequest:
    account_id: int
    token_digest: str
    expires_at: datetime
    used: bool = False


@dataclass
class Store:
    accounts: dict = field(default_factory=dict)
    sessions: dict = field(default_factory=dict)
    resets: dict = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add_account(self, email, password_hash, salt, colour):
        with self.lock:
            account = Account(len(self.accounts) + 1, email, password_hash, salt, colour)
            self.accounts[account.id] = account
            return account

    def by_email(self, email):
        return next((a for a in self.accounts.values() if a.email == email), None)


store = Store()
