"""Shared fixtures: the machine's real PostgreSQL (database `zeroops_test`) and Redis (db 15),
emptied before each test that uses them."""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import psycopg2
import psycopg2.extras
import pytest
import redis as redis_sync
from aiohttp import web
from aiohttp.test_utils import TestClient

from adapters.observability.logging import configure_logging
from adapters.postgres.database import Database
from entrypoints.config import Settings, load_settings
from entrypoints.containers import Container
from entrypoints.http.app import CONTAINER, create_app, provide

TEST_DB_NAME = os.environ.get("ZEROOPS_TEST_DB_NAME", "zeroops_test")
TEST_REDIS_DB = int(os.environ.get("ZEROOPS_TEST_REDIS_DB", "15"))
TABLES = ("alert_issues", "service_states", "alert_rejections")


def test_settings(**sections: Any) -> Settings:
    """config.yaml (with the environment's overrides), pointed at the test database and Redis db."""
    base = load_settings()
    settings = dataclasses.replace(
        base,
        database=dataclasses.replace(base.database, name=TEST_DB_NAME, pool_min=1, pool_max=5),
        redis=dataclasses.replace(base.redis, db=TEST_REDIS_DB),
        webhook=dataclasses.replace(base.webhook, basic_user="", basic_pass="", bearer=""),
        cache=dataclasses.replace(base.cache, catchup_interval_seconds=0),
    )
    for name, changes in sections.items():
        settings = dataclasses.replace(settings, **{name: dataclasses.replace(getattr(settings, name), **changes)})
    return settings


def _create_database(settings: Settings) -> None:
    db = settings.database
    conn = psycopg2.connect(host=db.host, port=db.port, user=db.user, password=db.password or None, dbname="postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db.name,))
        if cur.fetchone() is None:
            cur.execute(f'CREATE DATABASE "{db.name}"')
    conn.close()


async def _migrate(settings: Settings) -> None:
    database = Database(dataclasses.replace(settings.database, migrate_on_start=True))
    await database.open()
    await database.close()


@pytest.fixture(scope="session")
def settings() -> Settings:
    configure_logging("debug", "json")
    settings = test_settings()
    _create_database(settings)
    asyncio.run(_migrate(settings))
    return settings


class Pg:
    """Synchronous access for assertions, outside the service under test."""

    def __init__(self, settings: Settings) -> None:
        db = settings.database
        self.conn = psycopg2.connect(
            host=db.host,
            port=db.port,
            user=db.user,
            password=db.password or None,
            dbname=db.name,
            options="-c timezone=UTC",
        )
        self.conn.autocommit = True

    def rows(self, sql: str, params: Any = None) -> list[dict[str, Any]]:
        with self.conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
            cur.execute(sql, params)
            return [dict(row) for row in cur.fetchall()] if cur.description else []

    def scalar(self, sql: str, params: Any = None) -> Any:
        with self.conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchone()[0]

    def truncate(self) -> None:
        with self.conn.cursor() as cur:
            cur.execute(f"TRUNCATE {', '.join(TABLES)}")


@pytest.fixture
def pg(settings: Settings) -> Iterator[Pg]:
    pg = Pg(settings)
    pg.truncate()
    yield pg
    pg.conn.close()


@pytest.fixture
def rds(settings: Settings) -> Iterator[redis_sync.Redis]:
    client = redis_sync.Redis(
        host=settings.redis.host,
        port=settings.redis.port,
        db=settings.redis.db,
        password=settings.redis.password or None,
        decode_responses=True,
    )
    client.flushdb()
    yield client
    client.close()


AppClient = Callable[..., Awaitable[TestClient]]


@pytest.fixture
def service(aiohttp_client: Any, settings: Settings, pg: Pg, rds: redis_sync.Redis) -> AppClient:
    """Start the real HTTP stack on a loopback port; `await service(webhook={"bearer": "t"})` overrides settings."""

    async def start(wait_ready: bool = True, **sections: Any) -> TestClient:
        app = create_app(Container(settings=test_settings(**sections) if sections else settings))
        client = await aiohttp_client(app)
        if wait_ready:
            database: Database = await provide(app[CONTAINER].database)
            assert await database.wait_ready(10), database.last_error
        return client

    return start


@pytest.fixture
async def client(service: AppClient) -> AsyncIterator[TestClient]:
    yield await service()


def app_of(client: TestClient) -> web.Application:
    return client.server.app
