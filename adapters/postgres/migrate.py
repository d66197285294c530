"""Versioned schema migrations: numbered SQL files applied in order, each in its own transaction.

A session-level advisory lock makes concurrent starts safe: one instance migrates,
the others wait and then find nothing left to do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

import aiopg

MIGRATIONS_PACKAGE = "adapters.postgres.migrations"
_LOCK_KEY = 0x7A65726F6F7073  # "zeroops"
_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def available() -> list[Migration]:
    found = []
    for entry in resources.files(MIGRATIONS_PACKAGE).iterdir():
        match = _FILE.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    return sorted(found, key=lambda m: m.version)


async def migrate(pool: aiopg.Pool) -> list[Migration]:
    """Apply the migrations this database lacks; return those applied."""
    applied: list[Migration] = []
    async with pool.acquire() as conn, conn.cursor() as cur:
        await cur.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            await cur.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version integer PRIMARY KEY, name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            await cur.execute("SELECT version FROM schema_migrations")
            done = {row[0] for row in await cur.fetchall()}
            for migration in available():
                if migration.version in done:
                    continue
                async with cur.begin():
                    await cur.execute(migration.sql)
                    await cur.execute(
                        "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                        (migration.version, migration.name),
                    )
                applied.append(migration)
        finally:
            await cur.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return applied
