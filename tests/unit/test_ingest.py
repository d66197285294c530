from datetime import UTC, datetime, timedelta
from itertools import count

import pytest

from application.catch_up import CatchUpCache
from application.errors import StoreUnavailable
from application.ingest import IngestNotification
from application.ports import Changes
from domain.model import Alert, Level, Notification, Rejection, State, Status
from tests.unit.fakes import FakeIssueCache, FakeIssueStore

NOW = datetime(2025, 5, 5, 12, tzinfo=UTC)
SINCE = datetime(2025, 5, 5, 11, tzinfo=UTC)


def an_alert(fp: str = "fp1", status: Status = Status.FIRING, since: datetime = SINCE, **labels: str) -> Alert:
    return Alert(
        status=status,
        fingerprint=fp,
        starts_at=since,
        ends_at=None,
        labels={"alertname": "A", "service": "svc", **labels},
        annotations={},
    )


@pytest.fixture
def store():
    return FakeIssueStore()


@pytest.fixture
def cache():
    return FakeIssueCache()


@pytest.fixture
def ingest(store, cache):
    ids = count(1)
    return IngestNotification(
        store, cache, clock=lambda: NOW, new_id=lambda: f"id-{next(ids)}", level_map={"critical": Level.P0}
    )


async def test_firing_alerts_become_open_issues_written_through_to_the_cache(ingest, store, cache):
    result = await ingest(Notification(alerts=(an_alert("fp1"), an_alert("fp2", severity="critical"))))
    assert [i.id for i in result.created] == ["id-1", "id-2"]
    assert result.created[1].level is Level.P0
    assert [i.id for i in cache.published[0][0]] == ["id-1", "id-2"]
    assert (len(result.resolved), len(result.duplicates)) == (0, 0)


async def test_a_redelivered_notification_is_all_duplicates_and_skips_the_store(ingest, store):
    notification = Notification(alerts=(an_alert("fp1"),))
    await ingest(notification)
    result = await ingest(notification)
    assert (len(result.created), len(result.duplicates)) == (0, 1)
    assert len(store.batches) == 1


async def test_the_store_judges_duplicates_the_cache_does_not_know(ingest, store, cache):
    await ingest(Notification(alerts=(an_alert("fp1"),)))
    cache.known.clear()
    result = await ingest(Notification(alerts=(an_alert("fp1", since=SINCE + timedelta(seconds=3)),)))
    assert (len(result.created), len(result.duplicates)) == (0, 1)


async def test_a_fingerprint_repeated_within_one_notification_counts_once(ingest):
    result = await ingest(Notification(alerts=(an_alert("fp1"), an_alert("fp1"))))
    assert (len(result.created), len(result.duplicates)) == (1, 1)


async def test_each_alert_is_handled_by_its_own_status(ingest, store):
    await ingest(Notification(alerts=(an_alert("fp1"),)))
    result = await ingest(Notification(alerts=(an_alert("fp1", Status.RESOLVED), an_alert("fp2"))))
    assert [i.fingerprint for i in result.resolved] == ["fp1"]
    assert [i.fingerprint for i in result.created] == ["fp2"]
    assert store.issues["id-1"].state is State.CLOSED and store.issues["id-1"].resolved_at == NOW


async def test_deliveries_are_remembered_only_after_the_commit(ingest, store, cache):
    store.fail_with = StoreUnavailable("database down")
    with pytest.raises(StoreUnavailable):
        await ingest(Notification(alerts=(an_alert("fp1"),)))
    assert cache.remembered == []
    store.fail_with = None
    result = await ingest(Notification(alerts=(an_alert("fp1"),)))
    assert len(result.created) == 1
    assert cache.remembered == ["fp1|2025-05-05T11:00:00Z"]


async def test_a_cache_outage_neither_fails_nor_skips_the_write(ingest, store, cache):
    cache.fail = True
    result = await ingest(Notification(alerts=(an_alert("fp1"),)))
    assert len(result.created) == 1 and len(store.issues) == 1
    assert result.cache_error == "redis down"


async def test_rejections_are_handed_to_the_store_with_the_valid_alerts(ingest, store):
    rejection = Rejection(index=1, reason="alerts[1].startsAt empty", raw={"x": 1})
    result = await ingest(Notification(alerts=(an_alert("fp1"),), rejections=(rejection,), receiver="r"))
    assert store.batches[0].rejections == (rejection,)
    assert result.rejected == (rejection,)


async def test_catch_up_republishes_what_changed_within_the_lookback(store, cache):
    store.changed = Changes(issues=[], service_states=[])
    result = await CatchUpCache(store, cache, clock=lambda: NOW)(timedelta(minutes=15))
    assert store.asked_since == NOW - timedelta(minutes=15)
    assert cache.published == [([], [])]
    assert (result.issues, result.service_states) == (0, 0)
