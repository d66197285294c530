import dataclasses
import json
from datetime import UTC, datetime, timedelta

import pytest

from adapters.redis.cache import RedisIssueCache
from adapters.redis.client import init_redis
from application.errors import CacheUnavailable
from domain.model import Alert, AlertState, HealthState, ServiceState, State, Status
from domain.rules import issue_for

T0 = datetime(2025, 5, 5, 11, tzinfo=UTC)
TTL = 3 * 24 * 3600


def an_issue(issue_id="id-1", service="svc"):
    alert = Alert(
        Status.FIRING, "fp1", T0, None, {"alertname": "A", "service": service, "severity": "P1"}, {"summary": "s"}
    )
    return issue_for(alert, issue_id=issue_id)


@pytest.fixture
async def client(settings, rds):
    resource = init_redis(settings.redis)
    client = await resource.__anext__()
    yield client
    await resource.aclose()


async def test_an_open_issue_is_written_with_its_indexes_and_ttl(client, rds):
    await RedisIssueCache(client, TTL, 600).publish([an_issue()], [])
    document = json.loads(rds.get("alert:issue:id-1"))
    assert document == {
        "id": "id-1",
        "state": "Open",
        "level": "P1",
        "alertState": "Pending",
        "title": "s",
        "labels": [
            {"key": "alertname", "value": "A"},
            {"key": "service", "value": "svc"},
            {"key": "severity", "value": "P1"},
            {"key": "am_fingerprint", "value": "fp1"},
        ],
        "alertSince": "2025-05-05T11:00:00Z",
        "resolvedAt": None,
        "fingerprint": "fp1",
        "service": "svc",
        "alertname": "A",
    }
    assert TTL - 5 < rds.ttl("alert:issue:id-1") <= TTL
    assert rds.smembers("alert:index:open") == {"id-1"} == rds.smembers("alert:index:svc:svc:open")


async def test_a_closed_issue_moves_from_the_open_sets_to_the_closed_sets(client, rds):
    cache = RedisIssueCache(client, TTL, 600)
    issue = an_issue()
    await cache.publish([issue], [])
    issue.state, issue.alert_state, issue.resolved_at = State.CLOSED, AlertState.RESTORED, T0 + timedelta(minutes=3)
    await cache.publish([issue], [])
    assert rds.smembers("alert:index:open") == set() == rds.smembers("alert:index:svc:svc:open")
    assert rds.smembers("alert:index:closed") == {"id-1"} == rds.smembers("alert:index:svc:svc:closed")
    assert json.loads(rds.get("alert:issue:id-1"))["resolvedAt"] == "2025-05-05T11:03:00Z"
    assert rds.ttl("alert:issue:id-1") > TTL - 5


async def test_an_issue_without_service_is_only_in_the_global_sets(client, rds):
    await RedisIssueCache(client, TTL, 600).publish([an_issue(service="")], [])
    assert rds.keys("alert:index:svc:*") == []


async def test_a_service_state_is_in_exactly_one_health_set(client, rds):
    cache = RedisIssueCache(client, TTL, 600)
    state = ServiceState("svc", "v1", HealthState.ERROR, report_at=T0)
    await cache.publish([], [state])
    state = dataclasses.replace(state, health_state=HealthState.NORMAL, resolved_at=T0 + timedelta(hours=1))
    await cache.publish([], [state])
    key = "service_state:svc:v1"
    assert json.loads(rds.get(key)) == {
        "service": "svc",
        "version": "v1",
        "report_at": "2025-05-05T11:00:00Z",
        "resolved_at": "2025-05-05T12:00:00Z",
        "health_state": "Normal",
    }
    assert rds.smembers("service_state:index:service:svc") == {key}
    members = {h.value: rds.smembers(f"service_state:index:health:{h.value}") for h in HealthState}
    assert members == {"Normal": {key}, "Warning": set(), "Processing": set(), "Error": set()}
    assert TTL - 5 < rds.ttl(key) <= TTL


async def test_delivery_keys_are_seen_once_remembered_for_ten_minutes(client, rds):
    cache = RedisIssueCache(client, TTL, 600)
    assert await cache.seen(["fp|2025-05-05T11:00:00Z"]) == set()
    await cache.publish([], [], deliveries=["fp|2025-05-05T11:00:00Z", "fp|2025-05-05T11:00:00Z|resolved"])
    assert await cache.seen(["fp|2025-05-05T11:00:00Z", "other"]) == {"fp|2025-05-05T11:00:00Z"}
    assert rds.get("alert:idemp:fp|2025-05-05T11:00:00Z|resolved") == "1"
    assert 595 < rds.ttl("alert:idemp:fp|2025-05-05T11:00:00Z") <= 600


async def test_an_unreachable_redis_is_cache_unavailable(settings):
    resource = init_redis(dataclasses.replace(settings.redis, port=1))
    client = await resource.__anext__()
    try:
        with pytest.raises(CacheUnavailable):
            await RedisIssueCache(client, TTL, 600).publish([an_issue()], [])
        with pytest.raises(CacheUnavailable):
            await RedisIssueCache(client, TTL, 600).seen(["k"])
    finally:
        await resource.aclose()


async def test_a_late_open_write_never_replaces_a_closed_issue(client, rds):
    cache = RedisIssueCache(client, TTL, 600)
    stale, closed = an_issue(), an_issue()
    closed.state, closed.alert_state, closed.resolved_at = State.CLOSED, AlertState.RESTORED, T0 + timedelta(hours=1)
    await cache.publish([closed], [])
    await cache.publish([stale], [])  # another instance's earlier commit, written late
    assert json.loads(rds.get("alert:issue:id-1"))["state"] == "Closed"
    assert rds.smembers("alert:index:closed") == {"id-1"} == rds.smembers("alert:index:svc:svc:closed")
    assert not rds.exists("alert:index:open", "alert:index:svc:svc:open")


async def test_an_older_service_state_never_replaces_a_newer_one(client, rds):
    cache = RedisIssueCache(client, TTL, 600)
    older = ServiceState("svc", "v1", HealthState.ERROR, report_at=T0, updated_at=T0 + timedelta(seconds=1))
    newer = ServiceState("svc", "v1", HealthState.NORMAL, report_at=T0, updated_at=T0 + timedelta(seconds=2))
    await cache.publish([], [newer])
    await cache.publish([], [older])
    assert json.loads(rds.get("service_state:svc:v1"))["health_state"] == "Normal"
    assert rds.smembers("service_state:index:health:Normal") == {"service_state:svc:v1"}
    assert not rds.exists("service_state:index:health:Error")
    newest = dataclasses.replace(older, updated_at=T0 + timedelta(seconds=3))
    await cache.publish([], [newest])
    assert json.loads(rds.get("service_state:svc:v1"))["health_state"] == "Error"
    assert rds.smembers("service_state:index:health:Error") == {"service_state:svc:v1"}
