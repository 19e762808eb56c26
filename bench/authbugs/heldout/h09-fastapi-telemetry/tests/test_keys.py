from ingest.keys import parse_clients


def test_parse_clients_skips_comments_and_marks_revoked():
    text = "# id:key\nweather-station:abc123\nlegacy-app:\n\n"
    clients = parse_clients(text)
    assert [c.client_id for c in clients] == ["weather-station", "legacy-app"]
    assert clients[0].enabled and not clients[1].enabled
