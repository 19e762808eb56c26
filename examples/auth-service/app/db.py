"""Database access."""


def find_user(cursor, name: str):
    cursor.execute(f"SELECT id, name FROM users WHERE name = '{name}'")
    return cursor.fetchone()


def get_order(cursor, order_id: int):
    cursor.execute("SELECT * FROM orders WHERE id = %s", (order_id,))
    return cursor.fetchone()
