"""The webhook over real HTTP, with the real PostgreSQL and Redis behind it (SPEC §2, §3)."""

import asyncio
import base64
import json
from datetime import UTC, datetime

import pytest

from tests.support.payloads import alert, notification, seed, seed_resolved
from tests.support.state import database_rows, redis_contents
from tests.support.tcp_proxy import TcpProxy

WEBHOOK = "/v1/integrations/alertmanager/webhook"
SEED_QUERY = (
    "SELECT id,state,level,alert_state,title,alert_since FROM alert_issues"
    " WHERE title='p95 latency over threshold' AND alert_since='2025-05-05 11:00:00'::timestamp;"
)
T0 = datetime(2025, 5, 5, 11, tzinfo=UTC)
BASIC = {"Authorization": "Basic " + base64.b64encode(b"alert:s3cret").decode()}


async def post(client, payload, headers=None, expect=200):
    response = await client.post(WEBHOOK, json=payload, headers=headers)
    body = await response.json()
    assert response.status == expect, body
    return body


def assert_nothing_written(pg, rds):
    assert database_rows(pg) == {"alert_issues": [], "service_states": [], "alert_rejections": []}
    assert rds.keys("*") == []


async def test_the_seed_walkthrough_creates_one_open_issue_then_absorbs_the_duplicate(client, pg, rds):
    assert await post(client, seed()) == {"ok": True, "created": 1, "resolved": 0, "duplicates": 0, "rejected": 0}
    assert await post(client, seed()) == {"ok": True, "created": 0, "resolved": 0, "duplicates": 1, "rejected": 0}

    (row,) = pg.rows(SEED_QUERY)
    assert (row["state"], row["level"], row["alert_state"], row["alert_since"]) == ("Open", "P1", "Pending", T0)
    labels = pg.scalar("SELECT labels FROM alert_issues")
    assert labels == [
        {"key": "alertname", "value": "HighRequestLatency"},
        {"key": "idc", "value": "yzh"},
        {"key": "service", "value": "serviceA"},
        {"key": "service_version", "value": "v1.3.7"},
        {"key": "severity", "value": "P1"},
        {"key": "am_fingerprint", "value": "3b1b7f4e8f0e"},
        {"key": "generatorURL", "value": "http://prometheus/graph?g0.expr=..."},
    ]
    assert pg.rows("SELECT service, version, health_state, report_at FROM service_states") == [
        {"service": "serviceA", "version": "v1.3.7", "health_state": "Error", "report_at": T0}
    ]

    issue_id = row["id"]
    document = json.loads(rds.get(f"alert:issue:{issue_id}"))
    assert (document["state"], document["alertSince"], document["service"]) == (
        "Open",
        "2025-05-05T11:00:00Z",
        "serviceA",
    )
    assert 3 * 24 * 3600 - 60 < rds.ttl(f"alert:issue:{issue_id}") <= 3 * 24 * 3600
    assert rds.smembers("alert:index:open") == {issue_id} == rds.smembers("alert:index:svc:serviceA:open")
    assert json.loads(rds.get("service_state:serviceA:v1.3.7"))["health_state"] == "Error"
    assert rds.smembers("service_state:index:health:Error") == {"service_state:serviceA:v1.3.7"}
    assert rds.get("alert:idemp:3b1b7f4e8f0e|2025-05-05T11:00:00Z") == "1"


async def test_firing_then_resolved_closes_the_issue_and_restores_the_service(client, pg, rds):
    await post(client, seed())
    assert (await post(client, seed_resolved()))["resolved"] == 1
    (row,) = pg.rows("SELECT id, state, alert_state, resolved_at FROM alert_issues")
    assert (row["state"], row["alert_state"], row["resolved_at"]) == (
        "Closed",
        "Restored",
        datetime(2025, 5, 5, 11, 30, tzinfo=UTC),
    )
    assert pg.scalar("SELECT health_state FROM service_states") == "Normal"
    assert rds.smembers("alert:index:closed") == {row["id"]} == rds.smembers("alert:index:svc:serviceA:closed")
    assert not rds.exists("alert:index:open", "alert:index:svc:serviceA:open")
    assert json.loads(rds.get(f"alert:issue:{row['id']}"))["resolvedAt"] == "2025-05-05T11:30:00Z"
    assert rds.ttl(f"alert:issue:{row['id']}") > 3 * 24 * 3600 - 60
    assert json.loads(rds.get("service_state:serviceA:v1.3.7"))["health_state"] == "Normal"
    assert rds.smembers("service_state:index:health:Normal") == {"service_state:serviceA:v1.3.7"}
    assert not rds.exists("service_state:index:health:Error")
    assert (await post(client, seed_resolved()))["duplicates"] == 1


async def test_a_mixed_notification_is_counted_per_alert_and_a_redelivery_changes_nothing(client, pg, rds):
    await post(client, notification(alert("seen-before", starts_at="2025-05-05T10:00:00Z")))
    payload = notification(
        alert("a"),
        alert("b"),
        alert("c"),
        alert("seen-before", status="resolved", starts_at="2025-05-05T10:00:00Z", ends_at="2025-05-05T12:00:00Z"),
        alert("never-seen", status="resolved", ends_at="2025-05-05T12:00:00Z"),
        {"status": "firing", "labels": {"alertname": "broken"}, "startsAt": ""},
        status="resolved",
    )
    assert await post(client, payload) == {"ok": True, "created": 3, "resolved": 2, "duplicates": 0, "rejected": 1}
    states = {r["title"]: r["state"] for r in pg.rows("SELECT title, state FROM alert_issues")}
    assert states == {
        "svc a": "Open",
        "svc b": "Open",
        "svc c": "Open",
        "svc seen-before": "Closed",
        "svc never-seen": "Closed",
    }
    assert [r["reason"] for r in pg.rows("SELECT reason FROM alert_rejections")] == ["alerts[5].startsAt empty"]
    assert len(rds.smembers("alert:index:open")) == 3 and len(rds.smembers("alert:index:closed")) == 2

    before = (database_rows(pg), redis_contents(rds, include_internal=True))
    assert await post(client, payload) == {"ok": True, "created": 0, "resolved": 0, "duplicates": 5, "rejected": 1}
    assert (database_rows(pg), redis_contents(rds, include_internal=True)) == before


async def test_without_credentials_the_answer_is_401_and_nothing_is_written(service, pg, rds):
    client = await service(webhook={"basic_user": "alert", "basic_pass": "s3cret"})
    for headers in (
        None,
        {"Authorization": "Basic " + base64.b64encode(b"alert:nope").decode()},
        {"Authorization": "Bearer s3cret"},
    ):
        response = await client.post(WEBHOOK, json=seed(), headers=headers)
        assert response.status == 401
        assert await response.json() == {"ok": False, "error": "unauthorized"}
        assert response.headers["WWW-Authenticate"].startswith("Basic")
    assert_nothing_written(pg, rds)
    assert (await post(client, seed(), headers=BASIC))["created"] == 1


async def test_a_bearer_token_is_accepted_when_configured(service):
    client = await service(webhook={"bearer": "t0ken"})
    assert (await post(client, seed(), headers={"Authorization": "Bearer t0ken"}))["created"] == 1
    await post(client, seed(), headers={"Authorization": "Bearer other"}, expect=401)


async def test_credentials_never_reach_the_logs(service, capsys):
    client = await service(webhook={"basic_user": "alert", "basic_pass": "s3cret"})
    await post(
        client, seed(), headers={"Authorization": "Basic " + base64.b64encode(b"alert:wrong-pass").decode()}, expect=401
    )
    await post(client, seed(), headers=BASIC)
    output = capsys.readouterr().out
    assert "http.request" in output
    assert "s3cret" not in output and "wrong-pass" not in output and "YWxlcnQ6" not in output


@pytest.mark.parametrize(
    "body, error",
    [
        (b"{not json", "body is not valid JSON"),
        (b"[1, 2]", "body must be a JSON object"),
        (b'{"version": "4"}', "alerts missing"),
        (b'{"alerts": "many"}', "alerts must be a list"),
        (b'{"alerts": []}', "alerts empty"),
        (b'{"alerts": [{"startsAt": ""}, {"labels": {"a": 1}}]}', "alerts[0].startsAt empty"),
    ],
)
async def test_bad_input_is_a_400_naming_the_problem_and_writes_nothing(client, pg, rds, body, error):
    response = await client.post(WEBHOOK, data=body, headers={"Content-Type": "application/json"})
    assert response.status == 400
    result = await response.json()
    assert result["ok"] is False and result["error"].startswith(error)
    assert_nothing_written(pg, rds)


async def test_more_alerts_than_max_alerts_is_a_400(service, pg, rds):
    client = await service(webhook={"max_alerts": 2})
    body = await post(client, notification(alert("a"), alert("b"), alert("c")), expect=400)
    assert "webhook.max_alerts" in body["error"]
    assert_nothing_written(pg, rds)


async def test_a_body_over_the_limit_is_a_413(service, pg, rds):
    client = await service(webhook={"max_body_bytes": 4096})
    big = notification(alert("a", summary="x" * 5000))
    assert await post(client, big, expect=413) == {"ok": False, "error": "payload too large"}

    async def chunks():
        yield json.dumps(big).encode()

    response = await client.post(WEBHOOK, data=chunks())  # chunked: no Content-Length to trust
    assert response.status == 413
    assert_nothing_written(pg, rds)


async def test_hostile_strings_in_labels_are_stored_verbatim(client, pg, rds):
    hostile = {"q": "'); DROP TABLE alert_issues; --", "u": 'ünïcødé 🚨 "quoted"', "nl": "a\nb", "long": "v" * 20000}
    raw = alert("hostile", summary="日本語のアラート" * 40, **hostile)
    assert (await post(client, notification(raw)))["created"] == 1
    labels = {item["key"]: item["value"] for item in pg.scalar("SELECT labels FROM alert_issues")}
    assert {k: labels[k] for k in hostile} == hostile
    title = pg.scalar("SELECT title FROM alert_issues")
    assert len(title) == 255 and title == ("日本語のアラート" * 40)[:255]
    issue_id = pg.scalar("SELECT id FROM alert_issues")
    assert {i["key"]: i["value"] for i in json.loads(rds.get(f"alert:issue:{issue_id}"))["labels"]}["u"] == hostile["u"]


async def test_a_nul_in_a_label_is_a_clear_rejection_not_a_500(client, pg):
    body = await post(client, notification(alert("x", bad="a\u0000b")), expect=400)
    assert body["error"] == "alerts[0].labels.bad contains a NUL character"


async def test_an_unreachable_database_is_a_503_with_retry_after_and_nothing_written(service, pg, rds):
    client = await service(wait_ready=False, database={"port": 1, "connect_timeout": 1})
    response = await client.post(WEBHOOK, json=seed())
    assert response.status == 503
    assert response.headers["Retry-After"] == "5"
    body = await response.json()
    assert body["ok"] is False and "database" in body["error"]
    assert_nothing_written(pg, rds)


async def test_a_redis_outage_still_answers_200_and_writes_postgres(service, pg, capsys):
    client = await service(redis={"port": 1})
    assert (await post(client, seed()))["created"] == 1
    summary = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"http.request"' in line][-1]
    assert (summary["status"], summary["cache_error"]) == (200, "redis unavailable moments ago; not tried")
    assert pg.scalar("SELECT count(*) FROM alert_issues") == 1
    metrics = await (await client.get("/metrics")).text()
    assert 'zeroops_redis_errors_total{operation="dedup"} 1.0' in metrics
    assert 'zeroops_redis_skipped_total{operation="publish"} 1.0' in metrics  # the breaker spared the second try


async def test_fifty_concurrent_copies_of_one_notification_make_exactly_one_row(client, pg):
    results = await asyncio.gather(*(post(client, seed()) for _ in range(50)))
    assert sum(r["created"] for r in results) == 1
    assert sum(r["duplicates"] for r in results) == 49
    assert pg.scalar("SELECT count(*) FROM alert_issues") == 1
    assert pg.scalar("SELECT count(*) FROM service_states") == 1


async def test_a_request_past_its_timeout_is_a_503_and_commits_nothing(service, pg, rds):
    client = await service(webhook={"request_timeout": 0.5})
    pg.conn.autocommit = False
    try:
        with pg.conn.cursor() as cur:  # hold the table so the service's transaction waits
            cur.execute("LOCK TABLE alert_issues IN EXCLUSIVE MODE")
            response = await client.post(WEBHOOK, json=seed())
            assert response.status == 503
            assert "timed out" in (await response.json())["error"]
    finally:
        pg.conn.rollback()
        pg.conn.autocommit = True
    await asyncio.sleep(0.2)
    assert pg.scalar("SELECT count(*) FROM alert_issues") == 0
    assert (await post(client, seed()))["created"] == 1


async def test_connections_broken_by_a_database_restart_are_replaced_without_a_503(service, settings, pg):
    proxy = TcpProxy(settings.database.host, settings.database.port)
    await proxy.start()
    try:
        client = await service(database={"host": proxy.host, "port": proxy.port})
        assert (await post(client, notification(alert("before"))))["created"] == 1
        await proxy.cut()  # every pooled connection is now dead
        await proxy.restore()
        assert (await post(client, notification(alert("after"))))["created"] == 1
    finally:
        await proxy.close()
    assert pg.scalar("SELECT count(*) FROM alert_issues") == 2


async def test_two_instances_receiving_the_same_notifications_record_each_alert_once(service, pg, rds):
    first, second = await service(), await service()
    payload = notification(*(alert(f"a{n}", service=f"svc{n % 3}") for n in range(20)))
    resolved = notification(
        *(alert(f"a{n}", service=f"svc{n % 3}", status="resolved", ends_at="2025-05-05T12:00:00Z") for n in range(10))
    )
    results = await asyncio.gather(*(post(c, payload) for c in (first, second) * 10))
    assert sum(r["created"] for r in results) == 20
    results = await asyncio.gather(*(post(c, resolved) for c in (first, second) * 10))
    assert sum(r["resolved"] for r in results) == 10
    assert pg.scalar("SELECT count(*) FROM alert_issues") == 20
    assert pg.scalar("SELECT count(*) FROM alert_issues WHERE state = 'Closed'") == 10
    assert {r["service"]: r["health_state"] for r in pg.rows("SELECT service, health_state FROM service_states")} == {
        "svc0": "Error",
        "svc1": "Error",
        "svc2": "Error",
    }
    assert len(rds.smembers("alert:index:open")) == 10 and len(rds.smembers("alert:index:closed")) == 10


async def test_a_lone_surrogate_in_an_invalid_alert_is_a_400_and_a_readable_log_line(client, pg, capsys):
    body = b'{"alerts":[{"labels":{"alertname":"\\ud800x"},"startsAt":"2025-05-05T11:00:00Z"}]}'
    response = await client.post(WEBHOOK, data=body)
    assert response.status == 400
    assert (await response.json())["error"] == "alerts[0].labels.alertname is not valid Unicode"
    rejected = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"alert.rejected"' in line]
    assert rejected[0]["alertname"] == "\\ud800x"
    assert pg.scalar("SELECT count(*) FROM alert_rejections") == 0
