"""The PostgreSQL connection pool, opened in the background with backoff so that a
database that is down at start delays readiness instead of crashing the process."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import aiopg
import psycopg2
import structlog

from adapters.postgres.migrate import migrate

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class DatabaseSettings:
    host: str
    port: int
    user: str
    password: str = field(repr=False)
    name: str
    sslmode: str
    pool_min: int
    pool_max: int
    connect_timeout: float
    statement_timeout: float
    migrate_on_start: bool

    def dsn(self) -> str:
        parts = {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "dbname": self.name,
            "sslmode": self.sslmode,
            "connect_timeout": max(1, int(self.connect_timeout)),
            "application_name": "zeroops-receiver",
            "options": f"-c timezone=UTC -c statement_timeout={int(self.statement_timeout * 1000)}",
        }
        if self.password:
            parts["password"] = self.password
        return " ".join(f"{k}={_quote(str(v))}" for k, v in parts.items())


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class DatabaseNotReady(Exception):
    pass


class Database:
    """Owns the pool; `pool()` answers at once, raising DatabaseNotReady until it is open."""

    def __init__(self, settings: DatabaseSettings, on_ready: Callable[[aiopg.Pool], Awaitable[None]] | None = None):
        self.settings = settings
        self._pool: aiopg.Pool | None = None
        self._ready = asyncio.Event()
        self._opener: asyncio.Task[None] | None = None
        self._on_ready = on_ready
        self.last_error: str = "not connected yet"

    def pool(self) -> aiopg.Pool:
        if self._pool is None:
            raise DatabaseNotReady(f"database not ready: {self.last_error}")
        return self._pool

    async def open(self) -> aiopg.Pool:
        """Connect once (and migrate when configured); raises on failure."""
        pool = await aiopg.create_pool(
            self.settings.dsn(),
            minsize=self.settings.pool_min,
            maxsize=self.settings.pool_max,
            timeout=self.settings.statement_timeout + self.settings.connect_timeout,
            pool_recycle=300,
        )
        try:
            if self.settings.migrate_on_start:
                applied = await migrate(pool)
                log.info("database.migrated", applied=[m.version for m in applied])
            if self._on_ready:
                await self._on_ready(pool)
        except BaseException:
            pool.close()
            await pool.wait_closed()
            raise
        self._pool = pool
        self._ready.set()
        log.info("database.connected", host=self.settings.host, port=self.settings.port, name=self.settings.name)
        return pool

    def open_in_background(self, first_delay: float = 0.5, max_delay: float = 30.0) -> None:
        self._opener = asyncio.create_task(self._open_with_backoff(first_delay, max_delay))

    async def wait_ready(self, timeout: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), timeout)
        return self._ready.is_set()

    async def _open_with_backoff(self, delay: float, max_delay: float) -> None:
        attempt = 0
        while self._pool is None:
            attempt += 1
            try:
                await self.open()
            except (psycopg2.Error, OSError, TimeoutError) as exc:
                self.last_error = _describe(exc)
                log.warning(
                    "database.connect_failed",
                    attempt=attempt,
                    retry_in=round(delay, 2),
                    error=self.last_error,
                    sqlstate=getattr(exc, "pgcode", None),
                )
                await asyncio.sleep(delay)
                delay = min(max_delay, delay * 2)

    async def close(self) -> None:
        if self._opener:
            self._opener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._opener
        if self._pool is not None:
            self._pool.close()
            await self._pool.wait_closed()
            self._pool = None

    async def ping(self, timeout: float) -> None:
        pool = self.pool()
        if pool.freesize == 0 and pool.maxsize is not None and pool.size >= pool.maxsize:
            # Every connection is at work (each bounded by statement_timeout): waiting for one to
            # say SELECT 1 would fail readiness exactly when the instance is busiest.
            return

        async def select_one() -> None:
            async with pool.acquire() as conn, conn.cursor() as cur:
                await cur.execute("SELECT 1")

        await asyncio.wait_for(select_one(), timeout)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


async def init_database(settings: DatabaseSettings, wait: bool) -> AsyncIterator[Database]:
    """Resource: the database, opened now (`wait`) or in the background with backoff."""
    database = Database(settings)
    if wait:
        await database.open()
    else:
        database.open_in_background()
    try:
        yield database
    finally:
        await database.close()
