"""One middleware per request: a request id bound into every log line, one summary line,
the route's latency histogram, and a JSON 500 for anything unforeseen."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web
from aiohttp.typedefs import Middleware

from adapters.observability.metrics import Metrics
from entrypoints.http.responses import error

log = structlog.get_logger(__name__)

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def observe_requests(metrics: Metrics) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        offered = request.headers.get("X-Request-Id", "")
        request_id = offered if _REQUEST_ID.match(offered) else uuid.uuid4().hex
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        start = time.perf_counter()
        status = 500
        try:
            try:
                response = await handler(request)
            except web.HTTPException as exc:
                response = error(exc.status, exc.reason.lower())
            except Exception:
                log.exception("http.unhandled_error")
                response = error(500, "internal error")
            status = response.status
            response.headers["X-Request-Id"] = request_id
            return response
        finally:
            elapsed = time.perf_counter() - start
            route = _route(request)
            metrics.http_duration.labels(request.method, route, str(status)).observe(elapsed)
            if route != "/metrics":
                log.info(
                    "http.request",
                    method=request.method,
                    path=route,
                    status=status,
                    duration_ms=round(elapsed * 1000, 2),
                    remote=request.remote,
                    body_bytes=request.content_length,
                )
            structlog.contextvars.clear_contextvars()

    return middleware


def _route(request: web.Request) -> str:
    # The route's pattern, never the raw path: the label's values stay few.
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"
