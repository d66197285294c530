"""Port wrappers that time each awaited call as a processing step and count failures,
so that use cases and adapters stay free of metric objects."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import structlog

from adapters.observability.metrics import Metrics
from application.errors import CacheSkipped, CacheUnavailable, StoreUnavailable
from application.ports import Batch, Changes, IssueCache, IssueStore
from domain.model import AlertIssue, Recorded, ServiceState

log = structlog.get_logger(__name__)


class InstrumentedIssueStore:
    def __init__(self, inner: IssueStore, metrics: Metrics) -> None:
        self._inner = inner
        self._metrics = metrics

    async def record(self, batch: Batch) -> Recorded:
        with self._metrics.step("persist"):
            try:
                return await self._inner.record(batch)
            except StoreUnavailable as exc:
                self._count(exc)
                raise

    async def changed_since(self, since: datetime) -> Changes:
        try:
            return await self._inner.changed_since(since)
        except StoreUnavailable as exc:
            self._count(exc)
            raise

    def _count(self, exc: StoreUnavailable) -> None:
        sqlstate = getattr(exc, "sqlstate", None)
        self._metrics.db_errors.labels(sqlstate[:2] if sqlstate else "connection").inc()


class InstrumentedIssueCache:
    def __init__(self, inner: IssueCache, metrics: Metrics) -> None:
        self._inner = inner
        self._metrics = metrics

    async def seen(self, deliveries: Sequence[str]) -> set[str]:
        with self._metrics.step("dedup"):
            try:
                return await self._inner.seen(deliveries)
            except CacheUnavailable as exc:
                self._failed("dedup", exc)
                raise

    async def publish(
        self, issues: Sequence[AlertIssue], states: Sequence[ServiceState], deliveries: Sequence[str] = ()
    ) -> None:
        with self._metrics.step("cache"):
            try:
                await self._inner.publish(issues, states, deliveries)
            except CacheUnavailable as exc:
                self._failed("publish", exc)
                raise

    def _failed(self, operation: str, exc: CacheUnavailable) -> None:
        if isinstance(exc, CacheSkipped):
            self._metrics.redis_skipped.labels(operation).inc()
            return
        self._metrics.redis_errors.labels(operation).inc()
        log.warning(f"cache.{operation}_failed", error=str(exc))
