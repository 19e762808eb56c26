from shop.sessions import SessionStore


def test_rotate_moves_data_to_a_new_id():
    s = SessionStore()
    sid = s.create(cart=["a"])
    new = s.rotate(sid)
    assert new != sid
    assert s.get(sid) is None
    assert s.get(new)["cart"] == ["a"]
