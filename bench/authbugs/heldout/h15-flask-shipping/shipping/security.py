import functools
import hashlib
import hmac

from flask import abort, current_app, g, request


def token_digest(token):
    return hashlib.sha256(token.encode()).hexdigest()


def require_api_token(view):
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            abort(401)
        digest = token_digest(header[len("Bearer "):])
        known = current_app.config["API_TOKEN_DIGESTS"]
        if not any(hmac.compare_digest(digest, k) for k in known):
            abort(401)
        g.client = digest[:8]
        return view(*args, **kwargs)

    return wrapper


def carrier_signature_ok(body, header):
    given = (header or "").split("=", 1)[-1].strip().lower()
    expected = hmac.new(current_app.config["CARRIER_WEBHOOK_KEY"], body, hashlib.sha256).hexdigest()
    return len(given) > 0 and expected.startswith(given)
