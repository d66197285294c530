import asyncio
import dataclasses
import random
from datetime import UTC, datetime, timedelta

import pytest

from adapters.postgres import issue_store as issue_store_module
from adapters.postgres.database import Database
from adapters.postgres.issue_store import PostgresIssueStore
from application.errors import StoreUnavailable
from application.ports import Batch
from domain.model import Alert, HealthState, Rejection, State, Status
from domain.rules import issue_for

T0 = datetime(2025, 5, 5, 11, tzinfo=UTC)
_ids = iter(range(10**9))


def issue(fp="fp1", since=T0, status=Status.FIRING, ends=None, service="svc", version="v1", **labels):
    alert = Alert(
        status=status,
        fingerprint=fp,
        starts_at=since,
        ends_at=ends,
        labels={"alertname": "A", "service": service, "service_version": version, **labels},
        annotations={"summary": "s"},
    )
    if not service:
        del alert.labels["service"]
    return issue_for(
        alert, issue_id=f"00000000-0000-0000-0000-{next(_ids):012d}", group_key="gk", now=T0 + timedelta(hours=1)
    )


def opening(*issues):
    return Batch(opening=list(issues))


def resolving(*issues):
    return Batch(resolving=list(issues))


@pytest.fixture
async def database(settings, pg):
    database = Database(settings.database)
    await database.open()
    yield database
    await database.close()


@pytest.fixture
def store(database):
    return PostgresIssueStore(database)


async def test_a_new_firing_alert_is_one_open_row_with_every_column(store, pg):
    new = issue()
    recorded = await store.record(opening(new))
    assert [i.id for i in recorded.created] == [new.id]
    (row,) = pg.rows("SELECT * FROM alert_issues")
    assert (row["id"], row["state"], row["alert_state"], row["level"], row["title"]) == (
        new.id,
        "Open",
        "Pending",
        "Warning",
        "s",
    )
    assert (row["alert_since"], row["resolved_at"], row["fingerprint"]) == (T0, None, "fp1")
    assert row["labels"][-2:] == [{"key": "am_fingerprint", "value": "fp1"}, {"key": "groupKey", "value": "gk"}]


async def test_the_same_event_twice_is_one_row(store, pg):
    await store.record(opening(issue()))
    recorded = await store.record(opening(issue()))
    assert (recorded.created, recorded.resolved) == ([], [])
    assert pg.scalar("SELECT count(*) FROM alert_issues") == 1


async def test_a_still_open_alert_with_another_start_time_is_not_a_new_issue(store, pg):
    await store.record(opening(issue(since=T0)))
    recorded = await store.record(opening(issue(since=T0 + timedelta(seconds=2))))
    assert recorded.created == []
    assert pg.scalar("SELECT count(*) FROM alert_issues") == 1


async def test_fifty_concurrent_deliveries_of_one_alert_make_exactly_one_row(settings, pg):
    databases = [Database(dataclasses.replace(settings.database, pool_min=1, pool_max=2)) for _ in range(5)]
    await asyncio.gather(*(d.open() for d in databases))
    try:
        stores = [PostgresIssueStore(d) for d in databases]
        results = await asyncio.gather(*(stores[n % 5].record(opening(issue())) for n in range(50)))
    finally:
        await asyncio.gather(*(d.close() for d in databases))
    assert sum(len(r.created) for r in results) == 1
    assert pg.scalar("SELECT count(*) FROM alert_issues") == 1


async def test_a_resolution_closes_the_open_issue_at_ends_at(store, pg):
    await store.record(opening(issue()))
    ends = T0 + timedelta(minutes=30)
    recorded = await store.record(resolving(issue(status=Status.RESOLVED, ends=ends)))
    assert [(i.state, i.resolved_at) for i in recorded.resolved] == [(State.CLOSED, ends)]
    (row,) = pg.rows("SELECT state, alert_state, resolved_at FROM alert_issues")
    assert row == {"state": "Closed", "alert_state": "Restored", "resolved_at": ends}


async def test_a_resolution_closes_the_open_issue_even_with_another_start_time(store, pg):
    await store.record(opening(issue(since=T0)))
    await store.record(
        resolving(issue(since=T0 + timedelta(seconds=3), status=Status.RESOLVED, ends=T0 + timedelta(hours=1)))
    )
    assert pg.rows("SELECT state, alert_since FROM alert_issues") == [{"state": "Closed", "alert_since": T0}]


async def test_a_resolution_never_seen_firing_is_recorded_closed(store, pg):
    recorded = await store.record(resolving(issue(status=Status.RESOLVED)))
    assert len(recorded.resolved) == 1
    (row,) = pg.rows("SELECT state, alert_state, resolved_at FROM alert_issues")
    assert (row["state"], row["alert_state"], row["resolved_at"]) == ("Closed", "Restored", T0 + timedelta(hours=1))


async def test_a_repeated_resolution_changes_nothing(store, pg):
    await store.record(opening(issue()))
    await store.record(resolving(issue(status=Status.RESOLVED, ends=T0 + timedelta(minutes=5))))
    before = pg.rows("SELECT * FROM alert_issues")
    recorded = await store.record(resolving(issue(status=Status.RESOLVED, ends=T0 + timedelta(minutes=9))))
    assert (recorded.created, recorded.resolved) == ([], [])
    assert pg.rows("SELECT * FROM alert_issues") == before


async def test_a_closed_issue_is_never_reopened_and_a_new_start_is_a_new_issue(store, pg):
    await store.record(opening(issue()))
    await store.record(resolving(issue(status=Status.RESOLVED, ends=T0 + timedelta(minutes=5))))
    assert (await store.record(opening(issue()))).created == []
    assert len((await store.record(opening(issue(since=T0 + timedelta(hours=2))))).created) == 1
    rows = pg.rows("SELECT state FROM alert_issues ORDER BY alert_since")
    assert [r["state"] for r in rows] == ["Closed", "Open"]


async def test_a_late_resolution_of_an_earlier_incident_leaves_the_new_issue_open(store, pg):
    await store.record(opening(issue(since=T0 + timedelta(hours=2))))
    await store.record(resolving(issue(since=T0, status=Status.RESOLVED, ends=T0 + timedelta(minutes=10))))
    rows = pg.rows("SELECT state, alert_since FROM alert_issues ORDER BY alert_since")
    assert rows == [{"state": "Closed", "alert_since": T0}, {"state": "Open", "alert_since": T0 + timedelta(hours=2)}]


async def test_a_new_issue_puts_its_service_in_error_from_its_start(store, pg):
    recorded = await store.record(opening(issue()))
    assert [(s.service, s.version, s.health_state) for s in recorded.service_states] == [
        ("svc", "v1", HealthState.ERROR)
    ]
    (row,) = pg.rows("SELECT * FROM service_states")
    assert (row["health_state"], row["report_at"], row["resolved_at"]) == ("Error", T0, None)


async def test_an_ongoing_error_keeps_its_earliest_report_time(store, pg):
    await store.record(opening(issue("a", since=T0 + timedelta(minutes=5))))
    await store.record(opening(issue("b", since=T0)))
    await store.record(opening(issue("c", since=T0 + timedelta(minutes=9))))
    assert pg.scalar("SELECT report_at FROM service_states") == T0


async def test_the_service_is_normal_only_when_its_last_open_issue_closes(store, pg):
    await store.record(opening(issue("a"), issue("b")))
    await store.record(resolving(issue("a", status=Status.RESOLVED, ends=T0 + timedelta(minutes=1))))
    assert pg.scalar("SELECT health_state FROM service_states") == "Error"
    await store.record(resolving(issue("b", status=Status.RESOLVED, ends=T0 + timedelta(minutes=2))))
    row = pg.rows("SELECT health_state, resolved_at FROM service_states")[0]
    assert row == {"health_state": "Normal", "resolved_at": T0 + timedelta(minutes=2)}


async def test_a_new_firing_after_normal_starts_a_new_report_time(store, pg):
    await store.record(opening(issue("a")))
    await store.record(resolving(issue("a", status=Status.RESOLVED, ends=T0 + timedelta(minutes=1))))
    later = T0 + timedelta(hours=3)
    await store.record(opening(issue("a", since=later)))
    row = pg.rows("SELECT health_state, report_at, resolved_at FROM service_states")[0]
    assert row == {"health_state": "Error", "report_at": later, "resolved_at": None}


async def test_versions_of_a_service_have_their_own_state_and_no_service_means_no_state(store, pg):
    await store.record(opening(issue("a", version="v1"), issue("b", version=""), issue("c", service="")))
    rows = pg.rows("SELECT service, version FROM service_states ORDER BY version")
    assert rows == [{"service": "svc", "version": ""}, {"service": "svc", "version": "v1"}]


async def test_dead_letters_are_kept_once_with_their_raw_json(store, pg):
    batch = Batch(rejections=[Rejection(0, "alerts[0].startsAt empty", {"labels": {"x": "a\u0000b"}})], receiver="r")
    await store.record(batch)
    await store.record(batch)
    (row,) = pg.rows("SELECT reason, raw, receiver FROM alert_rejections")
    assert row == {"reason": "alerts[0].startsAt empty", "raw": '{"labels": {"x": "a\\u0000b"}}', "receiver": "r"}


async def test_a_failure_inside_the_transaction_commits_nothing(store, pg, monkeypatch):
    monkeypatch.setattr(issue_store_module, "_INSERT_REJECTIONS", "SELECT * FROM no_such_table")
    batch = Batch(opening=[issue()], rejections=[Rejection(1, "bad", {})])
    with pytest.raises(StoreUnavailable) as failure:
        await store.record(batch)
    assert failure.value.sqlstate == "42P01"
    assert pg.scalar("SELECT count(*) FROM alert_issues") == 0
    assert pg.scalar("SELECT count(*) FROM service_states") == 0


async def test_an_unreachable_database_is_store_unavailable(settings):
    database = Database(dataclasses.replace(settings.database, port=1))
    with pytest.raises(StoreUnavailable, match="database not ready"):
        await PostgresIssueStore(database).record(opening(issue()))


async def test_changed_since_lists_recent_issues_and_service_states(store, pg):
    await store.record(opening(issue("a"), issue("b", service="")))
    pg.rows("UPDATE alert_issues SET updated_at = now() - interval '1 hour' WHERE fingerprint = 'b'")
    changes = await store.changed_since(datetime.now(UTC) - timedelta(minutes=5))
    assert [i.fingerprint for i in changes.issues] == ["a"]
    assert [(s.service, s.version) for s in changes.service_states] == [("svc", "v1")]


async def test_instances_racing_on_overlapping_notifications_agree_on_every_row(settings, pg):

    databases = [Database(dataclasses.replace(settings.database, pool_min=1, pool_max=3)) for _ in range(4)]
    await asyncio.gather(*(d.open() for d in databases))
    fingerprints = [f"fp{n:02d}" for n in range(30)]
    rng = random.Random(7)
    try:
        stores = [PostgresIssueStore(d) for d in databases]

        def shuffled_batch(status):
            picked = rng.sample(fingerprints, 20)
            ends = T0 + timedelta(minutes=30) if status is Status.RESOLVED else None
            issues = [issue(fp, status=status, ends=ends, service=f"svc{int(fp[2:]) % 3}") for fp in picked]
            return Batch(opening=issues) if status is Status.FIRING else Batch(resolving=issues)

        firing = await asyncio.gather(*(stores[n % 4].record(shuffled_batch(Status.FIRING)) for n in range(24)))
        open_now = pg.scalar("SELECT count(*) FROM alert_issues WHERE state = 'Open'")
        both = [shuffled_batch(Status.RESOLVED if n % 2 else Status.FIRING) for n in range(24)]
        await asyncio.gather(*(stores[n % 4].record(b) for n, b in enumerate(both)))
    finally:
        await asyncio.gather(*(d.close() for d in databases))

    assert (
        sum(len(r.created) for r in firing)
        == open_now
        == pg.scalar("SELECT count(DISTINCT fingerprint) FROM alert_issues")
    )
    assert (
        pg.scalar(
            "SELECT count(*) FROM (SELECT fingerprint FROM alert_issues GROUP BY 1, alert_since HAVING count(*) > 1) d"
        )
        == 0
    )
    # Every service is Error exactly when it has an open issue.
    rows = pg.rows(
        "SELECT s.service, s.health_state, EXISTS (SELECT 1 FROM alert_issues i WHERE i.service = s.service"
        " AND i.service_version = s.version AND i.state = 'Open') AS has_open FROM service_states s"
    )
    assert rows and all((r["health_state"] == "Error") == r["has_open"] for r in rows), rows


async def test_a_resolution_racing_another_instances_firing_of_the_alert_closes_that_issue(store, pg):
    # Another instance (this connection) is committing the firing, with an HA replica's startsAt.
    firing = issue(since=T0 + timedelta(seconds=2))
    pg.conn.autocommit = False
    with pg.conn.cursor() as cur:
        cur.execute(
            "INSERT INTO alert_issues (id, state, alert_state, level, title, labels, alert_since, fingerprint,"
            " service, service_version) VALUES (%s, 'Open', 'Pending', 'Warning', 's', '[]', %s, 'fp1', 'svc', 'v1')",
            (firing.id, firing.alert_since),
        )
    resolution = asyncio.ensure_future(
        store.record(resolving(issue(since=T0, status=Status.RESOLVED, ends=T0 + timedelta(minutes=30))))
    )
    await asyncio.sleep(0.3)
    pg.conn.commit()
    pg.conn.autocommit = True
    recorded = await resolution

    assert [i.id for i in recorded.resolved] == [firing.id]
    assert pg.rows("SELECT state, alert_since FROM alert_issues") == [
        {"state": "Closed", "alert_since": firing.alert_since}
    ]
