"""Prometheus metrics, in a registry of their own so that each app (and each test) starts at zero.

Labels are of bounded cardinality only: never a fingerprint, an id or a service name.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics, generate_latest

STEPS = ("parse", "validate", "dedup", "persist", "cache")
OUTCOMES = ("created", "duplicate", "resolved", "rejected", "failed")
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


# `_created` series double the exposition for no use on a dashboard.
disable_created_metrics()


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.http_duration = Histogram(
            "zeroops_http_request_duration_seconds",
            "HTTP request latency by route.",
            ("method", "route", "status"),
            registry=self.registry,
            buckets=_LATENCY_BUCKETS,
        )
        self.step_duration = Histogram(
            "zeroops_webhook_step_duration_seconds",
            "Latency of each step of processing a notification.",
            ("step",),
            registry=self.registry,
            buckets=_LATENCY_BUCKETS,
        )
        self.alerts = Counter(
            "zeroops_alerts_total", "Alerts received, by outcome.", ("outcome",), registry=self.registry
        )
        self.notifications = Counter(
            "zeroops_notifications_total", "Webhook notifications, by HTTP status.", ("status",), registry=self.registry
        )
        self.redis_errors = Counter(
            "zeroops_redis_errors_total", "Failed Redis operations.", ("operation",), registry=self.registry
        )
        self.redis_skipped = Counter(
            "zeroops_redis_skipped_total",
            "Redis operations not tried because Redis failed moments ago (circuit open).",
            ("operation",),
            registry=self.registry,
        )
        self.db_errors = Counter(
            "zeroops_db_errors_total",
            "Failed database operations, by SQLSTATE class.",
            ("sqlstate_class",),
            registry=self.registry,
        )
        self.catchup_duration = Histogram(
            "zeroops_cache_catchup_duration_seconds",
            "Duration of a cache catch-up run.",
            registry=self.registry,
            buckets=(0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0),
        )
        self.catchup_items = Counter(
            "zeroops_cache_catchup_items_total",
            "Items re-written by cache catch-up.",
            ("kind",),
            registry=self.registry,
        )
        self.catchup_runs = Counter(
            "zeroops_cache_catchup_runs_total", "Cache catch-up runs, by result.", ("result",), registry=self.registry
        )
        self.database_ready = Gauge(
            "zeroops_database_ready", "1 when the database pool is open.", registry=self.registry
        )
        for step in STEPS:
            self.step_duration.labels(step)
        for outcome in OUTCOMES:
            self.alerts.labels(outcome)

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.step_duration.labels(name).observe(time.perf_counter() - start)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
