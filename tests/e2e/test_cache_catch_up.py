"""After a Redis outage, one catch-up makes Redis say what PostgreSQL says (SPEC §3.6)."""

import asyncio
import contextlib
from datetime import timedelta

from adapters.observability.metrics import Metrics
from entrypoints.http.app import CONTAINER, catch_up_forever, provide, run_catch_up
from tests.support.payloads import alert, notification
from tests.support.state import redis_contents, redis_expected_from
from tests.support.tcp_proxy import TcpProxy

WEBHOOK = "/v1/integrations/alertmanager/webhook"


async def test_after_a_redis_outage_one_catch_up_makes_redis_equal_postgres(service, settings, pg, rds):
    proxy = TcpProxy(settings.redis.host, settings.redis.port)
    await proxy.start()
    # No circuit breaker cool-down: the catch-up runs the moment Redis is back.
    client = await service(redis={"host": proxy.host, "port": proxy.port, "circuit_cooldown_seconds": 0})
    try:
        first = notification(
            alert("a", service="api"), alert("b", service="api"), alert("c", service="db"), alert("d", service=None)
        )
        assert (await (await client.post(WEBHOOK, json=first)).json())["created"] == 4

        await proxy.cut()
        during = notification(
            alert("a", service="api", status="resolved", ends_at="2025-05-05T11:10:00Z"),
            alert("c", service="db", status="resolved", ends_at="2025-05-05T11:20:00Z"),
            alert("e", service="db", starts_at="2025-05-05T11:30:00Z"),
            alert("f", service="web", status="resolved", ends_at="2025-05-05T11:40:00Z"),
        )
        response = await client.post(WEBHOOK, json=during)
        assert response.status == 200
        assert await response.json() == {"ok": True, "created": 1, "resolved": 3, "duplicates": 0, "rejected": 0}
        assert redis_contents(rds) != redis_expected_from(pg)  # the cache is behind

        await proxy.restore()
        container = client.server.app[CONTAINER]
        assert await run_catch_up(await provide(container.catch_up_cache), container.metrics(), timedelta(minutes=15))
    finally:
        await proxy.close()

    assert redis_contents(rds) == redis_expected_from(pg)
    metrics = await (await client.get("/metrics")).text()
    assert 'zeroops_cache_catchup_items_total{kind="issue"} 6.0' in metrics
    assert "zeroops_cache_catchup_duration_seconds_count 1.0" in metrics


async def test_the_background_task_catches_up_on_its_interval(service, pg, rds):
    client = await service(redis={"port": 1}, cache={"catchup_interval_seconds": 0.2})
    assert (await (await client.post(WEBHOOK, json=notification(alert("a")))).json())["created"] == 1
    # The service writes to a dead Redis; a second service with a live one catches up in the background.
    live = await service(cache={"catchup_interval_seconds": 0.2})
    for _ in range(50):
        if redis_contents(rds) == redis_expected_from(pg):
            break
        await asyncio.sleep(0.1)
    assert redis_contents(rds) == redis_expected_from(pg) != {}
    assert "zeroops_cache_catchup_runs_total" in await (await live.get("/metrics")).text()


async def test_the_background_catch_up_survives_a_run_that_crashes():
    runs = []

    async def crashing(lookback):
        runs.append(lookback)
        raise KeyError("bug")

    metrics = Metrics()
    task = asyncio.create_task(catch_up_forever(crashing, metrics, interval=0.01, lookback=timedelta(minutes=1)))
    await asyncio.sleep(0.1)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert len(runs) >= 3
    assert f'zeroops_cache_catchup_runs_total{{result="failed"}} {float(len(runs))}' in metrics.exposition().decode()
