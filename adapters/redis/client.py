from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff


@dataclass(frozen=True)
class RedisSettings:
    host: str
    port: int
    password: str = field(repr=False)
    db: int
    timeout: float
    circuit_cooldown_seconds: float = 2.0


async def init_redis(settings: RedisSettings) -> AsyncIterator[redis.Redis]:
    """Resource: a Redis client with short timeouts; Redis is a cache, never worth a slow answer."""
    client = redis.Redis(
        host=settings.host,
        port=settings.port,
        db=settings.db,
        password=settings.password or None,
        socket_timeout=settings.timeout,
        socket_connect_timeout=settings.timeout,
        decode_responses=True,
        # No retries with backoff (redis-py's default): with Redis down, each request would wait seconds
        # for a cache that PostgreSQL and the catch-up make good anyway.
        retry=Retry(NoBackoff(), 0),
    )
    try:
        yield client
    finally:
        await client.aclose()
