"""A real Alertmanager, configured from examples/alertmanager.yml, delivering to the real service.

Each test injects alerts through Alertmanager's API and judges the service by what an SRE
would check: rows in PostgreSQL, keys in Redis, and both processes' metrics.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis as redis_sync
import yaml
from aiohttp.test_utils import TestClient

from domain.fingerprint import fingerprint
from entrypoints.config import Settings, load_settings
from tests.conftest import AppClient, Pg
from tests.e2e.alertmanager_harness import (
    EXAMPLE_CONFIG,
    Alertmanager,
    alertmanager_binary,
    config_for_test,
    eventually,
    example_config,
    example_credentials,
    metric_value,
    running_alertmanager,
    webhook_config,
)
from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.alertmanager

USER, PASSWORD = example_credentials()
CREDENTIALS = {"basic_user": USER, "basic_pass": PASSWORD}
SYNTHETIC_LABELS = ("am_fingerprint", "generatorURL", "groupKey")

StartAlertmanager = Callable[..., Awaitable[Alertmanager]]


@pytest.fixture
def am_binary() -> str:
    return alertmanager_binary()


@pytest.fixture
async def alertmanager(am_binary: str, service: AppClient, tmp_path: Path) -> AsyncIterator[StartAlertmanager]:
    """`await alertmanager(client, max_alerts=10)`: an Alertmanager delivering to `client`, killed after the test.

    It depends on `service` so that it is stopped before the service is.
    """
    numbers = itertools.count()
    async with contextlib.AsyncExitStack() as stack:

        async def start(client: TestClient, **options: Any) -> Alertmanager:
            config = config_for_test(f"http://{client.server.host}:{client.server.port}", **options)
            workdir = tmp_path / f"alertmanager-{next(numbers)}"
            return await stack.enter_async_context(running_alertmanager(workdir, config, am_binary))

        yield start


def moment(seconds_ago: float = 0) -> datetime:
    return datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=seconds_ago)


def rfc3339(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def am_alert(
    labels: dict[str, str],
    starts_at: datetime | None,
    *,
    ends_at: datetime | None = None,
    summary: str | None = None,
    generator_url: str | None = None,
) -> dict[str, Any]:
    raw: dict[str, Any] = {"labels": labels}
    if starts_at is not None:
        raw["startsAt"] = rfc3339(starts_at)
    if ends_at is not None:
        raw["endsAt"] = rfc3339(ends_at)
    if summary is not None:
        raw["annotations"] = {"summary": summary}
    if generator_url is not None:
        raw["generatorURL"] = generator_url
    return raw


async def our_metric(client: TestClient, name: str, **labels: str) -> float:
    response = await client.get("/metrics")
    assert response.status == 200
    return metric_value(await response.text(), name, **labels)


async def notifications(client: TestClient, status: int) -> float:
    return await our_metric(client, "zeroops_notifications_total", status=str(status))


def issues(pg: Pg) -> list[dict[str, Any]]:
    return pg.rows("SELECT * FROM alert_issues ORDER BY alert_since, fingerprint")


def only_issue(pg: Pg) -> dict[str, Any]:
    rows = issues(pg)
    assert len(rows) == 1, rows
    return rows[0]


def service_state(pg: Pg, service: str, version: str = "") -> dict[str, Any]:
    rows = pg.rows("SELECT * FROM service_states WHERE service = %s AND version = %s", (service, version))
    assert len(rows) == 1, rows
    return rows[0]


def cached_issue(rds: redis_sync.Redis, issue_id: str) -> dict[str, Any]:
    body = rds.get(f"alert:issue:{issue_id}")
    assert body is not None, f"alert:issue:{issue_id} missing"
    return json.loads(body)


def incompressible(length: int, seed: int) -> str:
    # Random text: PostgreSQL cannot compress it below its size, as it would "x" * length.
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789éü数据库🚀\"' "
    return "".join(random.Random(seed).choices(alphabet, k=length))


def plain_labels(row: dict[str, Any]) -> dict[str, str]:
    return {item["key"]: item["value"] for item in row["labels"] if item["key"] not in SYNTHETIC_LABELS}


async def test_the_example_config_loads_unchanged_in_alertmanager(am_binary: str, tmp_path: Path) -> None:
    async with running_alertmanager(tmp_path, EXAMPLE_CONFIG, am_binary) as am:
        async with am.session.get(f"{am.url}/api/v2/status") as response:
            assert response.status == 200
            status = await response.json()
    loaded = yaml.safe_load(status["config"]["original"])
    webhook, example = webhook_config(loaded), webhook_config(example_config())
    assert loaded["route"]["receiver"] == "zeroops"
    assert webhook["url"] in (example["url"], "<secret>")  # Alertmanager >= 0.26 hides the url
    assert webhook["send_resolved"] is True
    assert webhook["max_alerts"] == example["max_alerts"]
    assert webhook["http_config"]["basic_auth"]["username"] == USER


def test_the_example_never_sends_more_alerts_than_the_receiver_accepts() -> None:
    # A bigger notification would be refused with a 400, which Alertmanager never retries.
    assert 0 < webhook_config(example_config())["max_alerts"] <= load_settings().webhook.max_alerts


async def test_an_alert_that_fires_then_resolves_closes_its_issue_everywhere(
    service: AppClient, alertmanager: StartAlertmanager, pg: Pg, rds: redis_sync.Redis
) -> None:
    client = await service(webhook=CREDENTIALS)
    am = await alertmanager(client)
    labels = {"alertname": "DiskFull", "service": "storage", "service_version": "v2", "severity": "P1", "idc": "yzh"}
    starts_at = moment(seconds_ago=60)

    await am.post_alerts([am_alert(labels, starts_at, summary="disk /data over 95%")])

    issue = await eventually(lambda: only_issue(pg))
    assert (issue["state"], issue["alert_state"], issue["level"]) == ("Open", "Pending", "P1")
    assert issue["title"] == "disk /data over 95%"
    assert issue["alert_since"] == starts_at
    assert issue["resolved_at"] is None
    assert service_state(pg, "storage", "v2")["health_state"] == "Error"
    issue_id = issue["id"]

    def cached_open() -> None:
        assert rds.smembers("alert:index:open") == {issue_id}
        assert rds.smembers("alert:index:svc:storage:open") == {issue_id}
        assert cached_issue(rds, issue_id)["state"] == "Open"

    await eventually(cached_open)

    ends_at = moment(seconds_ago=1)
    await am.post_alerts([am_alert(labels, starts_at, ends_at=ends_at, summary="disk /data over 95%")])

    def closed() -> dict[str, Any]:
        row = only_issue(pg)
        assert row["state"] == "Closed"
        return row

    issue = await eventually(closed)
    assert issue["id"] == issue_id
    assert issue["alert_state"] == "Restored"
    assert issue["resolved_at"] == ends_at
    state = service_state(pg, "storage", "v2")
    assert (state["health_state"], state["resolved_at"]) == ("Normal", ends_at)

    def cached_closed() -> None:
        assert not rds.sismember("alert:index:open", issue_id)
        assert not rds.sismember("alert:index:svc:storage:open", issue_id)
        assert rds.smembers("alert:index:closed") == {issue_id}
        assert rds.smembers("alert:index:svc:storage:closed") == {issue_id}
        document = cached_issue(rds, issue_id)
        assert (document["state"], document["alertState"]) == ("Closed", "Restored")
        assert document["resolvedAt"] == rfc3339(ends_at)
        assert json.loads(rds.get("service_state:storage:v2"))["health_state"] == "Normal"
        assert rds.sismember("service_state:index:health:Normal", "service_state:storage:v2")
        assert not rds.sismember("service_state:index:health:Error", "service_state:storage:v2")

    await eventually(cached_closed)
    assert await am.metric("alertmanager_notifications_failed_total", integration="webhook") == 0


async def test_a_group_cut_by_max_alerts_stores_what_alertmanager_sends(
    service: AppClient, alertmanager: StartAlertmanager, pg: Pg, rds: redis_sync.Redis
) -> None:
    client = await service(webhook=CREDENTIALS)
    am = await alertmanager(client, max_alerts=10)
    starts_at = moment(seconds_ago=30)
    group = [
        am_alert({"alertname": "NodeDown", "service": "fleet", "instance": f"node-{i:02d}"}, starts_at)
        for i in range(30)
    ]

    await am.post_alerts(group)

    async def delivered_again() -> None:
        # Several notifications of the same truncated group, each answered 200.
        assert await notifications(client, 200) >= 3

    def ten() -> None:
        assert len(issues(pg)) == 10

    await eventually(ten)
    await eventually(delivered_again)
    assert len(await am.alerts()) == 30
    rows = issues(pg)
    assert len(rows) == 10
    assert {r["fingerprint"] for r in rows} <= {a["fingerprint"] for a in await am.alerts()}
    assert await notifications(client, 400) == 0
    assert await am.metric("alertmanager_notifications_failed_total", integration="webhook") == 0
    assert await our_metric(client, "zeroops_alerts_total", outcome="created") == 10
    assert rds.scard("alert:index:open") == 10
    assert rds.scard("alert:index:svc:fleet:open") == 10


async def test_a_renotified_alert_is_absorbed_as_a_duplicate(
    service: AppClient, alertmanager: StartAlertmanager, pg: Pg, rds: redis_sync.Redis
) -> None:
    client = await service(webhook=CREDENTIALS)
    am = await alertmanager(client, repeat_interval="1s")
    labels = {"alertname": "QueueBacklog", "service": "billing", "severity": "P2"}
    starts_at = moment(seconds_ago=10)

    await am.post_alerts([am_alert(labels, starts_at)])
    issue = await eventually(lambda: only_issue(pg))
    # The same alert again, as Prometheus re-sends it on every evaluation.
    await am.post_alerts([am_alert(labels, starts_at)])

    async def repeated() -> None:
        assert await our_metric(client, "zeroops_alerts_total", outcome="duplicate") >= 2

    await eventually(repeated)
    assert only_issue(pg)["id"] == issue["id"]
    assert await our_metric(client, "zeroops_alerts_total", outcome="created") == 1
    assert rds.smembers("alert:index:open") == {issue["id"]}
    idempotency_key = f"alert:idemp:{issue['fingerprint']}|{rfc3339(starts_at)}"
    assert rds.get(idempotency_key) == "1"
    assert 0 < rds.ttl(idempotency_key) <= 600


async def test_unusual_labels_and_missing_severity_or_summary_are_stored_intact(
    service: AppClient, alertmanager: StartAlertmanager, pg: Pg, rds: redis_sync.Redis
) -> None:
    client = await service(webhook=CREDENTIALS)
    am = await alertmanager(client)
    starts_at = moment(seconds_ago=20)
    long_value = incompressible(10_000, seed=1)
    summary = " 磁盘 \"满了\" 'quoted' 🚀 " * 30
    odd = {
        "alertname": "Ünïcödé \"quoted\" 'single'",
        "service": "svc-ü",
        "instance": 'db "primary" 数据库 🚀',
        "long": long_value,
    }
    no_summary = {"alertname": "NoSummary", "service": "svc-ü", "idc": "yzh", "severity": "CRITICAL"}
    bare = {"instance": "lonely:9100", "job": "node"}
    generator_url = "http://prometheus:9090/graph?g0.expr=up%3D%3D0"

    await am.post_alerts(
        [
            am_alert(odd, starts_at, summary=summary, generator_url=generator_url),
            am_alert(no_summary, starts_at),
            am_alert(bare, starts_at),
        ]
    )

    def three() -> list[dict[str, Any]]:
        rows = issues(pg)
        assert len(rows) == 3, rows
        return rows

    rows = {frozenset(plain_labels(r).items()): r for r in await eventually(three)}
    first, second, third = (rows[frozenset(labels.items())] for labels in (odd, no_summary, bare))

    assert first["level"] == "Warning"
    assert first["title"] == summary.strip()[:255]
    assert len(first["title"]) == 255
    assert plain_labels(first)["long"] == long_value
    keys = [item["key"] for item in first["labels"]]
    assert keys == sorted(odd) + ["am_fingerprint", "generatorURL", "groupKey"]
    assert {item["key"]: item["value"] for item in first["labels"]}["generatorURL"] == generator_url
    assert first["service"] == "svc-ü"

    assert second["level"] == "Warning"
    assert second["title"] == "yzh svc-ü NoSummary"

    assert third["level"] == "Warning"
    assert third["title"] == "Alert from Alertmanager"
    assert third["service"] == ""

    def cached() -> None:
        for row in (first, second, third):
            document = cached_issue(rds, row["id"])
            assert document["title"] == row["title"]
            assert document["labels"] == row["labels"]
        assert rds.smembers("alert:index:svc:svc-ü:open") == {first["id"], second["id"]}
        assert rds.smembers("alert:index:open") == {first["id"], second["id"], third["id"]}

    await eventually(cached)
    assert service_state(pg, "svc-ü")["health_state"] == "Error"
    assert pg.scalar("SELECT count(*) FROM service_states") == 1
    assert pg.scalar("SELECT count(*) FROM alert_rejections") == 0


FINGERPRINT_CASES = [
    {"alertname": "A"},
    {
        "alertname": "HighRequestLatency",
        "service": "serviceA",
        "severity": "P1",
        "idc": "yzh",
        "service_version": "v1.3.7",
    },
    {"alertname": "Ünïcödé", "instance": "数据库 🚀", "quote": "a \"b\" 'c' \\ d"},
    {"alertname": "Long", "value": "y" * 10_000},
    {"zz": "1", "aa": "2", "a": "3", "alertname": "Order"},
]


async def test_our_fingerprint_is_the_one_alertmanager_computes(
    service: AppClient, alertmanager: StartAlertmanager, pg: Pg
) -> None:
    client = await service(webhook=CREDENTIALS)
    am = await alertmanager(client)

    # Without startsAt too: Alertmanager then stamps it with nanoseconds, which the service must parse.
    await am.post_alerts([am_alert(labels, None) for labels in FINGERPRINT_CASES])

    async def listed() -> list[dict[str, Any]]:
        found = await am.alerts()
        assert len(found) == len(FINGERPRINT_CASES)
        return found

    listed_alerts = await eventually(listed)
    for alert in listed_alerts:
        assert fingerprint(alert["labels"]) == alert["fingerprint"], alert["labels"]
        shown = {k: (v if len(v) <= 40 else f"{v[:10]}…({len(v)} chars)") for k, v in alert["labels"].items()}
        print(f"fingerprint {alert['fingerprint']} <- {json.dumps(shown, ensure_ascii=False)}")

    def stored() -> list[dict[str, Any]]:
        rows = issues(pg)
        assert len(rows) == len(FINGERPRINT_CASES)
        return rows

    started = {a["fingerprint"]: datetime.fromisoformat(a["startsAt"]) for a in listed_alerts}
    for row in await eventually(stored):
        assert row["fingerprint"] == fingerprint(plain_labels(row))
        assert abs(row["alert_since"] - started[row["fingerprint"]]) < timedelta(milliseconds=1)


async def test_the_same_alert_from_two_alertmanager_replicas_is_one_issue(
    service: AppClient, alertmanager: StartAlertmanager, pg: Pg, rds: redis_sync.Redis
) -> None:
    client = await service(webhook=CREDENTIALS)
    replicas = [await alertmanager(client), await alertmanager(client)]
    labels = {"alertname": "ReplicaLag", "service": "orders", "severity": "P1"}
    starts_at = moment(seconds_ago=15)

    for am in replicas:
        await am.post_alerts([am_alert(labels, starts_at)])

    async def both_delivered() -> None:
        assert await notifications(client, 200) >= 4
        for am in replicas:
            assert await am.metric("alertmanager_notifications_total", integration="webhook") >= 2

    await eventually(both_delivered)
    issue = only_issue(pg)
    assert await our_metric(client, "zeroops_alerts_total", outcome="created") == 1
    assert await our_metric(client, "zeroops_alerts_total", outcome="duplicate") >= 3
    assert rds.smembers("alert:index:open") == {issue["id"]}


async def test_a_service_label_too_big_for_an_index_is_rejected_and_its_group_still_recorded(
    service: AppClient, alertmanager: StartAlertmanager, pg: Pg
) -> None:
    client = await service(webhook=CREDENTIALS)
    am = await alertmanager(client)
    starts_at = moment(seconds_ago=10)
    huge = incompressible(10_000, seed=2)
    # One group (same alertname and service): both alerts travel in one notification.
    await am.post_alerts(
        [
            am_alert({"alertname": "Rollout", "service": "catalog", "service_version": "v1"}, starts_at),
            am_alert({"alertname": "Rollout", "service": "catalog", "service_version": huge}, starts_at),
        ]
    )

    async def answered() -> None:
        assert await notifications(client, 200) + await notifications(client, 503) >= 1

    await eventually(answered)

    def sibling_recorded() -> None:
        assert pg.scalar("SELECT count(*) FROM alert_issues WHERE service_version = 'v1'") == 1

    await eventually(sibling_recorded, timeout=3)
    assert await notifications(client, 503) == 0
    (reason,) = [r["reason"] for r in pg.rows("SELECT reason FROM alert_rejections")]
    assert reason.endswith("labels.service_version longer than 1000 bytes")
    # The oversized alert is kept somewhere an SRE can find it: as an issue or as a dead letter.
    kept = pg.scalar("SELECT count(*) FROM alert_issues WHERE service_version <> 'v1'")
    assert kept + pg.scalar("SELECT count(*) FROM alert_rejections") == 1


async def test_nothing_is_lost_while_postgresql_is_unreachable(
    settings: Settings, service: AppClient, alertmanager: StartAlertmanager, pg: Pg, rds: redis_sync.Redis
) -> None:
    proxy = TcpProxy("127.0.0.1", settings.database.port)
    await proxy.start()
    try:
        client = await service(webhook=CREDENTIALS, database={"host": proxy.host, "port": proxy.port})
        am = await alertmanager(client)
        labels = {"alertname": "PaymentsDown", "service": "payments", "severity": "P0"}
        await proxy.cut()

        await am.post_alerts([am_alert(labels, moment(seconds_ago=5))])

        async def refused_and_retried() -> None:
            # Two 503s: Alertmanager saw the first as retryable and came back.
            assert await notifications(client, 503) >= 2
            assert await am.metric("alertmanager_notification_requests_failed_total", integration="webhook") >= 2

        await eventually(refused_and_retried, timeout=15)
        assert issues(pg) == []
        await proxy.restore()

        issue = await eventually(lambda: only_issue(pg), timeout=20)
        unavailable = await notifications(client, 503)
        am_failed_requests = await am.metric("alertmanager_notification_requests_failed_total", integration="webhook")
        print(
            f"503 answers while PostgreSQL was cut: {unavailable:.0f} "
            f"(Alertmanager failed requests: {am_failed_requests:.0f})"
        )
        assert unavailable >= 1

        async def delivered_again() -> None:
            assert await notifications(client, 200) >= 3

        await eventually(delivered_again)
        assert only_issue(pg)["id"] == issue["id"]
        assert issue["state"] == "Open"

        def cached() -> None:
            assert rds.smembers("alert:index:open") == {issue["id"]}

        await eventually(cached)
    finally:
        await proxy.close()


async def test_wrong_credentials_are_refused_and_nothing_is_written(
    service: AppClient, alertmanager: StartAlertmanager, pg: Pg, rds: redis_sync.Redis
) -> None:
    client = await service(webhook=CREDENTIALS)
    am = await alertmanager(client, password=f"not-{PASSWORD}")

    await am.post_alerts([am_alert({"alertname": "Intruder", "service": "edge"}, moment(seconds_ago=5))])

    async def refused() -> None:
        assert await notifications(client, 401) >= 1
        assert await am.metric("alertmanager_notifications_failed_total", integration="webhook") >= 1

    await eventually(refused)
    assert await notifications(client, 200) == 0
    for table in ("alert_issues", "service_states", "alert_rejections"):
        assert pg.scalar(f"SELECT count(*) FROM {table}") == 0, table
    assert rds.dbsize() == 0
