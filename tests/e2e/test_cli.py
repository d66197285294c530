"""The `zeroops` command as an operator runs it: a real process, real signals (SPEC §5, §7)."""

import asyncio
import json
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.support.payloads import seed

ZEROOPS = str(Path(sys.executable).with_name("zeroops"))
WEBHOOK = "/v1/integrations/alertmanager/webhook"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def env(settings):
    port = free_port()
    values = {k: v for k, v in os.environ.items() if not k.startswith("ALERT_WEBHOOK_")}
    values.update(
        DB_HOST=settings.database.host,
        DB_PORT=str(settings.database.port),
        DB_NAME=settings.database.name,
        REDIS_ADDR=f"{settings.redis.host}:{settings.redis.port}",
        REDIS_DB=str(settings.redis.db),
        SERVER_BIND_ADDR=f"127.0.0.1:{port}",
        CACHE_CATCHUP_INTERVAL="0",
        LOG_LEVEL="info",
    )
    values["BASE_URL"] = f"http://127.0.0.1:{port}"
    return values


async def start(env, *args):
    return await asyncio.create_subprocess_exec(
        ZEROOPS, *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )


async def wait_for(url: str, status: int, timeout: float = 10.0) -> dict:
    async with aiohttp.ClientSession() as http:
        for _ in range(int(timeout / 0.1)):
            try:
                async with http.get(url) as response:
                    if response.status == status:
                        return await response.json()
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"{url} never answered {status}")


async def stop(process) -> tuple[int, list[dict]]:
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
    return await finish(process)


async def finish(process) -> tuple[int, list[dict]]:
    stdout, _ = await asyncio.wait_for(process.communicate(), 20)
    return process.returncode, [json.loads(line) for line in stdout.decode().splitlines() if line.startswith("{")]


async def test_a_bad_config_value_stops_the_start_naming_its_key(env):
    process = await start({**env, "DB_PORT": "five"}, "serve")
    _, stderr = await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode == 2
    assert "database.port: expected an integer, got 'five'" in stderr.decode()


async def test_a_database_down_at_start_is_retried_while_the_process_serves(env):
    process = await start({**env, "DB_PORT": str(free_port())}, "serve")
    try:
        await wait_for(env["BASE_URL"] + "/healthz", 200)
        body = await wait_for(env["BASE_URL"] + "/readyz", 503)
        assert body["postgres"].startswith("down")
        await asyncio.sleep(1.0)
    finally:
        code, lines = await stop(process)
    assert code == 0
    attempts = [line["attempt"] for line in lines if line["event"] == "database.connect_failed"]
    assert len(attempts) >= 2 and attempts == sorted(attempts)
    assert any(line["event"] == "webhook.unauthenticated" and line["level"] == "warning" for line in lines)


async def test_sigterm_finishes_the_request_in_flight_then_exits_0(env, pg):
    process = await start(env, "serve")
    try:
        await wait_for(env["BASE_URL"] + "/readyz", 200)
        pg.conn.autocommit = False
        with pg.conn.cursor() as cur:
            cur.execute("LOCK TABLE alert_issues IN EXCLUSIVE MODE")  # the request will wait inside its transaction
        async with aiohttp.ClientSession() as http:
            in_flight = asyncio.ensure_future(http.post(env["BASE_URL"] + WEBHOOK, json=seed()))
            await asyncio.sleep(0.5)
            process.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.5)
            with pytest.raises(aiohttp.ClientConnectionError):  # no longer accepting
                await http.get(env["BASE_URL"] + "/healthz")
            pg.conn.rollback()
            response = await in_flight
            assert response.status == 200 and (await response.json())["created"] == 1
        code, lines = await finish(process)
    finally:
        pg.conn.rollback()
        pg.conn.autocommit = True
        if process.returncode is None:
            await stop(process)
    assert code == 0
    assert [line["event"] for line in lines][-1] == "server.stopped"
    assert pg.scalar("SELECT count(*) FROM alert_issues") == 1


async def test_migrate_applies_the_schema_and_exits_0(env):
    process = await start(env, "migrate")
    code, lines = await finish(process)
    assert code == 0
    assert any(line["event"] == "database.migrated" for line in lines)


async def test_migrate_fails_with_a_message_when_the_database_is_unreachable(env):
    process = await start({**env, "DB_PORT": str(free_port())}, "migrate")
    code, lines = await finish(process)
    assert code == 1
    assert any(line["event"] == "database.migrate_failed" for line in lines)


async def test_cache_backfill_copies_recent_changes_into_redis(env, pg, rds):
    process = await start(env, "serve")
    try:
        await wait_for(env["BASE_URL"] + "/readyz", 200)
        async with aiohttp.ClientSession() as http:
            async with http.post(env["BASE_URL"] + WEBHOOK, json=seed()) as response:
                assert response.status == 200
    finally:
        await stop(process)
    rds.flushdb()
    process = await start(env, "cache-backfill", "--since", "15m")
    code, lines = await finish(process)
    assert code == 0
    done = next(line for line in lines if line["event"] == "cache.caught_up")
    assert (done["issues"], done["service_states"]) == (1, 1)
    assert len(rds.keys("alert:issue:*")) == 1 and rds.exists("service_state:serviceA:v1.3.7")


async def test_serve_takes_another_config_file(env, tmp_path):
    config = tmp_path / "other.yaml"
    config.write_text('server:\n  bind_addr: "127.0.0.1:1"\ndatabase:\n  port: "not a port"\n')
    process = await start(env, "serve", "--config", str(config))
    _, stderr = await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode == 2 and "database.port" in stderr.decode()
