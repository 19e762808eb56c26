import os

from docvault import auth
from docvault.users import add_user

PASSWORD = os.environ.get("DOCVAULT_TEST_PASSWORD", "a-test-password-1")


def test_wrong_password_is_refused():
    add_user("ana@example.org", PASSWORD)
    assert auth.authenticate("ana@example.org", PASSWORD) is not None
    assert auth.authenticate("ana@example.org", PASSWORD + "x") is None
    assert auth.authenticate("nobody@example.org", PASSWORD) is None
