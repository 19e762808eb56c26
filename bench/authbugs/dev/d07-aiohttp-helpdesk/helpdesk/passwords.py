from argon2 import PasswordHasher
from argon2.exceptions import VerificationError

_hasher = PasswordHasher()


def hash_password(plain):
    return _hasher.hash(plain)


def verify_password(stored, plain):
    try:
        return _hasher.verify(stored, plain)
    except VerificationError:
        return False
