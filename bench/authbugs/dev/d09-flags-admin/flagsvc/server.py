import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from . import auth, flags, settings


class Handler(BaseHTTPRequestHandler):
    server_version = "flagsvc/1.3"

    def _send(self, status, payload, extra=None):
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _user(self):
        creds = auth.parse_basic(self.headers.get("Authorization"))
        return auth.authenticate(*creds) if creds else None

    def _challenge(self):
        self._send(401, {"error": "authentication required"}, {"WWW-Authenticate": f'Basic realm="{settings.REALM}"'})

    def do_GET(self):
        if self.path == "/healthz":
            return self._send(200, {"ok": True})
        user = self._user()
        if user is None:
            return self._challenge()
        if self.path == "/flags":
            return self._send(200, flags.read_flags())
        return self._send(404, {"error": "not found"})

    def do_PUT(self):
        user = self._user()
        if user is None:
            return self._challenge()
        if user["role"] != "editor":
            return self._send(403, {"error": "editors only"})
        if not self.path.startswith("/flags/"):
            return self._send(404, {"error": "not found"})
        length = min(int(self.headers.get("Content-Length") or 0), 4096)
        data = json.loads(self.rfile.read(length) or b"{}")
        return self._send(200, flags.set_flag(self.path[len("/flags/"):], data.get("enabled"), user["username"]))


def main():
    ThreadingHTTPServer((settings.BIND, settings.PORT), Handler).serve_forever()


if __name__ == "__main__":
    main()
