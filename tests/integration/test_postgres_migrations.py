import asyncio
import dataclasses

import psycopg2
import pytest

from adapters.postgres.database import Database
from adapters.postgres.migrate import available, migrate

SCRATCH_DB = "zeroops_test_migrations"


def _admin(settings):
    db = settings.database
    conn = psycopg2.connect(host=db.host, port=db.port, user=db.user, password=db.password or None, dbname="postgres")
    conn.autocommit = True
    return conn


@pytest.fixture
def scratch_settings(settings):
    conn = _admin(settings)
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{SCRATCH_DB}" WITH (FORCE)')
        cur.execute(f'CREATE DATABASE "{SCRATCH_DB}"')
    yield dataclasses.replace(settings, database=dataclasses.replace(settings.database, name=SCRATCH_DB))
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{SCRATCH_DB}" WITH (FORCE)')
    conn.close()


async def test_instances_starting_at_once_apply_each_migration_exactly_once(scratch_settings):
    databases = [Database(dataclasses.replace(scratch_settings.database, migrate_on_start=False)) for _ in range(4)]
    pools = await asyncio.gather(*(d.open() for d in databases))
    try:
        applied = await asyncio.gather(*(migrate(pool) for pool in pools))
        again = await migrate(pools[0])
        async with pools[0].acquire() as conn, conn.cursor() as cur:
            await cur.execute("SELECT version FROM schema_migrations ORDER BY version")
            versions = [row[0] for row in await cur.fetchall()]
            await cur.execute("SELECT current_setting('timezone')")
            (timezone,) = await cur.fetchone()
    finally:
        await asyncio.gather(*(d.close() for d in databases))
    assert sorted(len(a) for a in applied) == [0, 0, 0, len(available())]
    assert again == []
    assert versions == [m.version for m in available()]
    assert timezone == "UTC"


def test_the_spec_indexes_and_constraints_exist(settings, pg):
    indexes = {
        r["indexname"]: r["indexdef"]
        for r in pg.rows("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'alert_issues'")
    }
    definitions = " | ".join(indexes.values())
    assert (
        "UNIQUE INDEX alert_issues_fingerprint_alert_since_key ON public.alert_issues"
        " USING btree (fingerprint, alert_since)" in definitions
    )
    assert "(fingerprint) WHERE (state = 'Open'::text)" in indexes["alert_issues_one_open_per_fingerprint"]
    assert "(state, level, alert_since)" in definitions and "(alert_state, alert_since)" in definitions
    with pytest.raises(psycopg2.errors.CheckViolation):
        pg.rows("INSERT INTO service_states (service, version, health_state) VALUES ('s', '', 'Broken')")
