"""A circuit breaker in front of Redis: after a failure, fail fast for a cool-down instead of
paying a connect timeout (and a warning line) on every request while Redis is down."""

from __future__ import annotations

import time
from collections.abc import Callable

import structlog

from application.errors import CacheSkipped

log = structlog.get_logger(__name__)


class CircuitBreaker:
    def __init__(self, cooldown_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._cooldown = cooldown_seconds
        self._clock = clock
        self._open_until: float | None = None

    def check(self) -> None:
        """Raise CacheSkipped while the circuit is open; after the cool-down let one call through."""
        if self._open_until is not None and self._clock() < self._open_until:
            raise CacheSkipped("redis unavailable moments ago; not tried")

    def failed(self, error: BaseException) -> None:
        if self._cooldown <= 0:
            return
        if self._open_until is None:
            log.warning("cache.circuit_opened", cooldown_seconds=self._cooldown, error=str(error))
        self._open_until = self._clock() + self._cooldown

    def succeeded(self) -> None:
        if self._open_until is not None:
            log.info("cache.circuit_closed")
            self._open_until = None
