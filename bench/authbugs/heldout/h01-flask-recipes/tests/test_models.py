from recipes.models import User


def test_password_round_trip():
    user = User(email="cook@example.com")
    user.set_password("a long kitchen password")
    assert user.check_password("a long kitchen password")
    assert not user.check_password("wrong")


def test_avatar_is_stable():
    assert User(email=" Cook@Example.com ").avatar_url() == User(email="cook@example.com").avatar_url()
