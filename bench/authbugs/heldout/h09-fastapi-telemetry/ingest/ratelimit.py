import threading
import time


class TokenBucket:
    def __init__(self, rate_per_second, burst):
        self.rate = rate_per_second
        self.burst = burst
        self.state = {}
        self.lock = threading.Lock()

    def allow(self, key, cost=1, now=None):
        now = time.monotonic() if now is None else now
        with self.lock:
            tokens, last = self.state.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens < cost:
                self.state[key] = (tokens, now)
                return False
            self.state[key] = (tokens - cost, now)
            return True


ingest_limiter = TokenBucket(rate_per_second=20, burst=200)
