import time

from django.contrib.auth import logout

IDLE_LIMIT_SECONDS = 30 * 60


class IdleTimeoutMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.user.is_authenticated:
            now = int(time.time())
            last_seen = request.session.get("last_seen", now)
            if now - last_seen > IDLE_LIMIT_SECONDS:
                logout(request)
            else:
                request.session["last_seen"] = now
        return self.get_response(request)
