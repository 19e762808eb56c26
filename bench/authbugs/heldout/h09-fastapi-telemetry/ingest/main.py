from collections import defaultdict, deque

from fastapi import Depends, FastAPI, HTTPException
from pydantic import BaseModel, Field

from . import settings
from .deps import require_admin, require_client
from .keys import load_clients
from .ratelimit import ingest_limiter

app = FastAPI(title="telemetry ingest")
BUFFER = defaultdict(lambda: deque(maxlen=10_000))


class Point(BaseModel):
    metric: str = Field(max_length=120)
    value: float
    ts: int


class Batch(BaseModel):
    points: list[Point]


@app.post("/v1/points", status_code=202)
def ingest(batch: Batch, client=Depends(require_client)):
    if len(batch.points) > settings.MAX_BATCH:
        raise HTTPException(status_code=413, detail="batch too large")
    if not ingest_limiter.allow(client.client_id, cost=max(1, len(batch.points) // 50)):
        raise HTTPException(status_code=429, detail="slow down")
    BUFFER[client.client_id].extend(batch.points)
    return {"accepted": len(batch.points)}


@app.get("/v1/points/latest")
def latest(client=Depends(require_client)):
    return {"points": list(BUFFER[client.client_id])[-20:]}


@app.post("/admin/reload")
def reload_clients(_admin=Depends(require_admin)):
    load_clients.cache_clear()
    return {"clients": sum(1 for c in load_clients() if c.enabled)}


@app.get("/healthz")
def health():
    return {"ok": True}
