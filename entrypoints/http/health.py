"""/healthz (the process serves), /readyz (PostgreSQL answers; Redis reported) and /metrics."""

from __future__ import annotations

import asyncio

import redis.asyncio as redis
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from adapters.observability.metrics import Metrics
from adapters.postgres.database import Database

_PING_TIMEOUT = 1.0


class HealthHandlers:
    def __init__(self, database: Database, redis_client: redis.Redis, metrics: Metrics) -> None:
        self._database = database
        self._redis = redis_client
        self._metrics = metrics
        self.shutting_down = False

    async def healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def readyz(self, request: web.Request) -> web.Response:
        postgres, redis_status = await asyncio.gather(self._check_postgres(), self._check_redis())
        if self.shutting_down:
            status = "shutting down"
        elif postgres != "ok":
            status = "not ready"
        else:
            status = "ready" if redis_status == "ok" else "degraded"
        ready = status in ("ready", "degraded")
        body = {"ok": ready, "status": status, "postgres": postgres, "redis": redis_status}
        return web.json_response(body, status=200 if ready else 503)

    async def metrics(self, request: web.Request) -> web.Response:
        response = web.Response(body=self._metrics.exposition())
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response

    async def _check_postgres(self) -> str:
        try:
            await self._database.ping(_PING_TIMEOUT)
        except Exception as exc:
            self._metrics.database_ready.set(0)
            return f"down: {str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}"
        self._metrics.database_ready.set(1)
        return "ok"

    async def _check_redis(self) -> str:
        try:
            await asyncio.wait_for(self._redis.ping(), _PING_TIMEOUT)
        except Exception as exc:
            return f"down: {str(exc) or type(exc).__name__}"
        return "ok"
