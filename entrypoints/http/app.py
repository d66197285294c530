"""The aiohttp application factory: routes, middleware, and every resource opened and
closed in one cleanup context."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import structlog
from aiohttp import web

from adapters.observability.metrics import Metrics
from application.catch_up import CatchUpCache
from application.errors import CacheUnavailable, StoreUnavailable
from entrypoints.containers import Container
from entrypoints.http import webhook
from entrypoints.http.health import HealthHandlers
from entrypoints.http.middleware import observe_requests
from entrypoints.http.webhook import WebhookHandler

log = structlog.get_logger(__name__)

CONTAINER = web.AppKey("container", Container)
WEBHOOK = web.AppKey("webhook", WebhookHandler)
HEALTH = web.AppKey("health", HealthHandlers)


async def provide(provider: Any) -> Any:
    """A provider's value; awaited when some dependency is an async resource, as-is when tests override it."""
    return await settle(provider())


async def settle(value: Any) -> Any:
    """`init_resources()` and friends return an awaitable only when some resource is async."""
    return await value if inspect.isawaitable(value) else value


def create_app(container: Container) -> web.Application:
    metrics = container.metrics()
    app = web.Application(middlewares=[observe_requests(metrics)])
    app[CONTAINER] = container
    app.cleanup_ctx.append(_resources)
    app.cleanup_ctx.append(_catch_up_in_background)
    app.on_shutdown.append(_mark_shutting_down)
    app.router.add_post(webhook.PATH, _webhook)
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readyz)
    app.router.add_get("/metrics", _metrics)
    return app


async def _webhook(request: web.Request) -> web.Response:
    return await request.app[WEBHOOK](request)


async def _healthz(request: web.Request) -> web.Response:
    return await request.app[HEALTH].healthz(request)


async def _readyz(request: web.Request) -> web.Response:
    return await request.app[HEALTH].readyz(request)


async def _metrics(request: web.Request) -> web.Response:
    return await request.app[HEALTH].metrics(request)


async def _resources(app: web.Application) -> AsyncIterator[None]:
    container = app[CONTAINER]
    await settle(container.init_resources())
    app[WEBHOOK] = await provide(container.webhook_handler)
    app[HEALTH] = await provide(container.health_handlers)
    settings = container.settings()
    if settings.webhook.open:
        log.warning("webhook.unauthenticated", hint="set ALERT_WEBHOOK_BASIC_USER/PASS or ALERT_WEBHOOK_BEARER")
    try:
        yield
    finally:
        await settle(container.shutdown_resources())


async def _mark_shutting_down(app: web.Application) -> None:
    app[HEALTH].shutting_down = True
    log.info("server.shutting_down")


async def _catch_up_in_background(app: web.Application) -> AsyncIterator[None]:
    container = app[CONTAINER]
    cache_settings = container.settings().cache
    task = None
    if cache_settings.catchup_interval_seconds > 0:
        task = asyncio.create_task(
            catch_up_forever(
                await provide(container.catch_up_cache),
                container.metrics(),
                interval=cache_settings.catchup_interval_seconds,
                lookback=timedelta(seconds=cache_settings.catchup_lookback_seconds),
            )
        )
    try:
        yield
    finally:
        if task:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def catch_up_forever(catch_up: CatchUpCache, metrics: Metrics, interval: float, lookback: timedelta) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            await run_catch_up(catch_up, metrics, lookback)
        except Exception:  # the loop outlives any one run: a dead catch-up task would go unnoticed
            metrics.catchup_runs.labels("failed").inc()
            log.exception("cache.catch_up_crashed")


async def run_catch_up(catch_up: CatchUpCache, metrics: Metrics, lookback: timedelta) -> bool:
    structlog.contextvars.clear_contextvars()
    loop = asyncio.get_running_loop()
    start = loop.time()
    try:
        result = await catch_up(lookback)
    except (StoreUnavailable, CacheUnavailable) as exc:
        metrics.catchup_runs.labels("failed").inc()
        log.warning("cache.catch_up_failed", error=str(exc))
        return False
    elapsed = loop.time() - start
    metrics.catchup_duration.observe(elapsed)
    metrics.catchup_runs.labels("ok").inc()
    metrics.catchup_items.labels("issue").inc(result.issues)
    metrics.catchup_items.labels("service_state").inc(result.service_states)
    log.info(
        "cache.caught_up",
        issues=result.issues,
        service_states=result.service_states,
        lookback_seconds=lookback.total_seconds(),
        duration_ms=round(elapsed * 1000, 2),
    )
    return True
