import json
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from . import bookings, conf, staff


class LabHandler(BaseHTTPRequestHandler):
    def _json_body(self):
        length = min(int(self.headers.get("Content-Length") or 0), 8192)
        return json.loads(self.rfile.read(length) or b"{}")

    def _reply(self, code, payload, cookie=None):
        data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        if cookie:
            self.send_header("Set-Cookie", cookie)
        self.end_headers()
        self.wfile.write(data)

    def _person(self):
        jar = SimpleCookie(self.headers.get("Cookie", ""))
        return staff.session_person(jar["lab"].value if "lab" in jar else None)

    def do_POST(self):
        body = self._json_body()
        if self.path == "/login":
            person = staff.check_login(str(body.get("badge", "")), str(body.get("password", "")))
            if person is None:
                return self._reply(401, {"error": "badge or password not recognised"})
            token = staff.start_session(person)
            return self._reply(200, {"name": person["name"]}, f"lab={token}; HttpOnly; Secure; SameSite=Strict; Path=/")
        person = self._person()
        if person is None:
            return self._reply(401, {"error": "log in first"})
        try:
            if self.path == "/bookings":
                return self._reply(201, bookings.add(body["instrument"], body["start"], body["end"], person["badge"]))
            if self.path == "/bookings/cancel":
                ok = bookings.cancel(int(body.get("id", 0)), person)
                return self._reply(200 if ok else 404, {"cancelled": ok})
        except (KeyError, ValueError) as exc:
            return self._reply(400, {"error": str(exc)})
        return self._reply(404, {"error": "not found"})


if __name__ == "__main__":
    ThreadingHTTPServer((conf.HOST, conf.PORT), LabHandler).serve_forever()
