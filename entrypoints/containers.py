"""The composition root: settings → resources → adapters → use cases → HTTP handlers."""

from __future__ import annotations

from dependency_injector import containers, providers

from adapters.observability.instrumented import (
    InstrumentedIssueCache,
    InstrumentedIssueStore,
)
from adapters.observability.metrics import Metrics
from adapters.postgres.database import init_database
from adapters.postgres.issue_store import PostgresIssueStore
from adapters.redis.breaker import CircuitBreaker
from adapters.redis.cache import RedisIssueCache
from adapters.redis.client import init_redis
from application.catch_up import CatchUpCache
from application.ingest import IngestNotification
from entrypoints.config import Settings
from entrypoints.http.auth import Authenticator
from entrypoints.http.health import HealthHandlers
from entrypoints.http.webhook import WebhookHandler


class Container(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)
    # True for one-shot commands (migrate, cache-backfill); a server opens the database in the background.
    wait_for_database = providers.Object(False)

    metrics = providers.Singleton(Metrics)

    database = providers.Resource(init_database, settings=settings.provided.database, wait=wait_for_database)
    redis_client = providers.Resource(init_redis, settings=settings.provided.redis)

    issue_store = providers.Singleton(
        InstrumentedIssueStore, inner=providers.Singleton(PostgresIssueStore, database=database), metrics=metrics
    )
    issue_cache = providers.Singleton(
        InstrumentedIssueCache,
        inner=providers.Singleton(
            RedisIssueCache,
            client=redis_client,
            ttl_seconds=settings.provided.cache.issue_ttl_seconds,
            delivery_ttl_seconds=settings.provided.cache.idempotency_ttl_seconds,
            breaker=providers.Singleton(
                CircuitBreaker, cooldown_seconds=settings.provided.redis.circuit_cooldown_seconds
            ),
        ),
        metrics=metrics,
    )

    ingest_notification = providers.Singleton(
        IngestNotification,
        store=issue_store,
        cache=issue_cache,
        level_map=settings.provided.severity_levels,
    )
    catch_up_cache = providers.Singleton(CatchUpCache, store=issue_store, cache=issue_cache)

    authenticator = providers.Singleton(
        Authenticator,
        basic_user=settings.provided.webhook.basic_user,
        basic_pass=settings.provided.webhook.basic_pass,
        bearer=settings.provided.webhook.bearer,
    )
    webhook_handler = providers.Singleton(
        WebhookHandler,
        ingest=ingest_notification,
        metrics=metrics,
        settings=settings.provided.webhook,
        authenticator=authenticator,
    )
    health_handlers = providers.Singleton(HealthHandlers, database=database, redis_client=redis_client, metrics=metrics)
