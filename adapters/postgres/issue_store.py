"""PostgresIssueStore: one transaction per notification, the database as judge of duplicates.

Every write is a multi-row statement fed by one JSON array, so a notification of 5,000
alerts costs a handful of round trips. Rows are taken in a fixed order (fingerprint,
then service) so concurrent instances lock in the same order; a deadlock or
serialization failure that still happens is retried as a whole transaction.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg2
import psycopg2.errorcodes
import structlog

from adapters.postgres.database import Database, DatabaseNotReady
from application.errors import StoreUnavailable
from application.ports import Batch, Changes
from domain.model import AlertIssue, AlertState, HealthState, Label, Level, Recorded, Rejection, ServiceState, State

log = structlog.get_logger(__name__)

_RETRIED_SQLSTATES = {psycopg2.errorcodes.SERIALIZATION_FAILURE, psycopg2.errorcodes.DEADLOCK_DETECTED}
_ATTEMPTS = 3

_ISSUE_COLUMNS = (
    "id, state, alert_state, level, title, labels, alert_since, resolved_at,"
    " fingerprint, service, service_version, alertname"
)
_ISSUE_RECORD = (
    "id text, state text, alert_state text, level text, title text, labels jsonb,"
    " alert_since timestamptz, resolved_at timestamptz, fingerprint text,"
    " service text, service_version text, alertname text"
)
_STATE_COLUMNS = "service, version, health_state, report_at, resolved_at, detail, correlation_id, updated_at"

# Both unique indexes judge: (fingerprint, alert_since) and one open issue per fingerprint.
_INSERT_ISSUES = f"""
INSERT INTO alert_issues ({_ISSUE_COLUMNS})
SELECT {_ISSUE_COLUMNS} FROM jsonb_to_recordset(%(rows)s::jsonb) AS r({_ISSUE_RECORD})
ORDER BY fingerprint, alert_since
ON CONFLICT DO NOTHING
RETURNING id
"""

# A resolution closes the open issue of its fingerprint, unless that issue started after
# the resolution: then the resolution is a late delivery for an earlier incident.
_CLOSE_OPEN = f"""
WITH r AS (
    SELECT * FROM jsonb_to_recordset(%(rows)s::jsonb) AS r(fingerprint text, resolved_at timestamptz)
), target AS (
    SELECT i.id, r.resolved_at FROM alert_issues i JOIN r USING (fingerprint)
    WHERE i.state = 'Open' AND i.alert_since <= r.resolved_at
    ORDER BY i.fingerprint
    FOR UPDATE OF i
)
UPDATE alert_issues i
SET state = 'Closed', alert_state = 'Restored', resolved_at = target.resolved_at, updated_at = now()
FROM target WHERE i.id = target.id
RETURNING {", ".join("i." + c.strip() for c in _ISSUE_COLUMNS.split(","))}
"""

_CLOSE_BY_ID = f"""
UPDATE alert_issues i
SET state = 'Closed', alert_state = 'Restored', resolved_at = r.resolved_at, updated_at = now()
FROM jsonb_to_recordset(%(rows)s::jsonb) AS r(id text, resolved_at timestamptz)
WHERE i.id = r.id
RETURNING {", ".join("i." + c.strip() for c in _ISSUE_COLUMNS.split(","))}
"""

_INSERT_REJECTIONS = """
INSERT INTO alert_rejections (reason, raw, raw_digest, alert_index, receiver, group_key)
SELECT reason, raw, raw_digest, alert_index, %(receiver)s, %(group_key)s
FROM jsonb_to_recordset(%(rows)s::jsonb) AS r(reason text, raw text, raw_digest text, alert_index integer)
ORDER BY raw_digest
ON CONFLICT (raw_digest) DO NOTHING
"""

# Lock (creating where missing) every service state this transaction touches, in one order,
# before reading which issues are still open: the next statement's snapshot then sees
# every transaction that touched these rows before us.
_LOCK_STATES = """
INSERT INTO service_states AS s (service, version, health_state, report_at, resolved_at)
SELECT service, version, health_state, report_at, resolved_at
FROM jsonb_to_recordset(%(rows)s::jsonb)
    AS r(service text, version text, health_state text, report_at timestamptz, resolved_at timestamptz)
ORDER BY service, version
ON CONFLICT (service, version) DO UPDATE SET service = s.service
"""

_APPLY_STATES = f"""
WITH r AS (
    SELECT * FROM jsonb_to_recordset(%(rows)s::jsonb)
        AS r(service text, version text, opened_since timestamptz, closed_at timestamptz)
), x AS (
    SELECT r.*, EXISTS (
        SELECT 1 FROM alert_issues i
        WHERE i.state = 'Open' AND i.service = r.service AND i.service_version = r.version
    ) AS still_open
    FROM r
)
UPDATE service_states s SET
    health_state = CASE WHEN x.opened_since IS NOT NULL THEN 'Error'
                        WHEN NOT x.still_open THEN 'Normal'
                        ELSE s.health_state END,
    report_at = CASE WHEN x.opened_since IS NULL THEN s.report_at
                     WHEN s.health_state <> 'Normal' AND s.report_at IS NOT NULL
                         THEN LEAST(s.report_at, x.opened_since)
                     ELSE x.opened_since END,
    resolved_at = CASE WHEN x.opened_since IS NOT NULL THEN NULL
                       WHEN NOT x.still_open THEN x.closed_at
                       ELSE s.resolved_at END,
    detail = CASE WHEN x.opened_since IS NOT NULL THEN NULL ELSE s.detail END,
    correlation_id = CASE WHEN x.opened_since IS NOT NULL THEN NULL ELSE s.correlation_id END,
    -- The moment of the write, not of the transaction's start: a later writer of this row waited
    -- for our commit, so its value is larger, and the cache can order writes by it.
    updated_at = clock_timestamp()
FROM x WHERE s.service = x.service AND s.version = x.version
RETURNING {", ".join("s." + c.strip() for c in _STATE_COLUMNS.split(","))}
"""

_CHANGED_ISSUES = f"SELECT {_ISSUE_COLUMNS} FROM alert_issues WHERE updated_at >= %(since)s ORDER BY updated_at"
_CHANGED_STATES = f"SELECT {_STATE_COLUMNS} FROM service_states WHERE updated_at >= %(since)s ORDER BY updated_at"


class PostgresIssueStore:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def record(self, batch: Batch) -> Recorded:
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                return await self._record_once(batch)
            except psycopg2.Error as exc:
                if exc.pgcode in _RETRIED_SQLSTATES and attempt < _ATTEMPTS:
                    log.warning("database.transaction_retried", sqlstate=exc.pgcode, attempt=attempt)
                    await asyncio.sleep(0.01 * attempt)
                    continue
                raise _unavailable(exc) from exc
            except DatabaseNotReady as exc:
                raise StoreUnavailable(str(exc)) from exc
            except (OSError, TimeoutError) as exc:
                raise _unavailable(exc) from exc
        raise AssertionError("unreachable")

    async def _record_once(self, batch: Batch) -> Recorded:
        recorded = Recorded()
        async with self._database.pool().acquire() as conn, conn.cursor() as cur:
            async with cur.begin():
                if batch.resolving:
                    recorded.resolved = await self._resolve(cur, batch.resolving)
                if batch.opening:
                    recorded.created = await self._insert(cur, batch.opening)
                if batch.rejections:
                    await cur.execute(
                        _INSERT_REJECTIONS,
                        {
                            "rows": _json(_rejection_row(r) for r in batch.rejections),
                            "receiver": batch.receiver,
                            "group_key": batch.group_key,
                        },
                    )
                recorded.service_states = await self._update_service_states(cur, recorded)
        return recorded

    async def _insert(self, cur: Any, issues: Sequence[AlertIssue]) -> list[AlertIssue]:
        await cur.execute(_INSERT_ISSUES, {"rows": _json(_issue_row(i) for i in issues)})
        inserted = {row[0] for row in await cur.fetchall()}
        return [i for i in issues if i.id in inserted]

    async def _close_open(self, cur: Any, issues: Sequence[AlertIssue]) -> list[AlertIssue]:
        rows = ({"fingerprint": i.fingerprint, "resolved_at": _iso(i.resolved_at)} for i in issues)
        await cur.execute(_CLOSE_OPEN, {"rows": _json(rows)})
        return [_issue_from_row(row) for row in await cur.fetchall()]

    async def _resolve(self, cur: Any, resolving: Sequence[AlertIssue]) -> list[AlertIssue]:
        closed = await self._close_open(cur, resolving)
        done = {i.fingerprint for i in closed}
        # No open issue in our snapshot. Claim the alert with an Open row: the one-open-issue index
        # makes us wait for a firing of it that another instance is committing right now.
        unmatched = [i for i in resolving if i.fingerprint not in done]
        claimed = await self._claim(cur, unmatched) if unmatched else []
        done |= {i.fingerprint for i in claimed}
        # Not claimed: an issue of the alert is open (committed meanwhile, so close it) or closed.
        pending = [i for i in resolving if i.fingerprint not in done]
        late = await self._close_open(cur, pending) if pending else []
        done |= {i.fingerprint for i in late}
        # Still nothing: the incident goes on record closed, unless that event is already there
        # (a later incident left open, or this one closed before).
        pending = [i for i in resolving if i.fingerprint not in done]
        recorded = await self._insert(cur, pending) if pending else []
        return closed + claimed + late + recorded

    async def _claim(self, cur: Any, resolving: Sequence[AlertIssue]) -> list[AlertIssue]:
        """Insert the resolutions as open issues, then close them: never seen open by anyone else."""
        as_open = [_issue_row(i) | {"state": "Open", "alert_state": "Pending", "resolved_at": None} for i in resolving]
        await cur.execute(_INSERT_ISSUES, {"rows": _json(as_open)})
        inserted = {row[0] for row in await cur.fetchall()}
        if not inserted:
            return []
        rows = [{"id": i.id, "resolved_at": _iso(i.resolved_at)} for i in resolving if i.id in inserted]
        await cur.execute(_CLOSE_BY_ID, {"rows": _json(rows)})
        return [_issue_from_row(row) for row in await cur.fetchall()]

    async def _update_service_states(self, cur: Any, recorded: Recorded) -> list[ServiceState]:
        touched: dict[tuple[str, str], _Touch] = {}
        for issue in recorded.created + recorded.resolved:
            if issue.service:
                touched.setdefault((issue.service, issue.service_version), _Touch()).add(issue)
        if not touched:
            return []
        keyed = [({"service": service, "version": version}, t) for (service, version), t in touched.items()]
        await cur.execute(_LOCK_STATES, {"rows": _json(key | t.placeholder() for key, t in keyed)})
        await cur.execute(_APPLY_STATES, {"rows": _json(key | t.change() for key, t in keyed)})
        return [_state_from_row(row) for row in await cur.fetchall()]

    async def changed_since(self, since: datetime) -> Changes:
        try:
            async with self._database.pool().acquire() as conn, conn.cursor() as cur:
                await cur.execute(_CHANGED_ISSUES, {"since": since})
                issues = [_issue_from_row(row) for row in await cur.fetchall()]
                await cur.execute(_CHANGED_STATES, {"since": since})
                states = [_state_from_row(row) for row in await cur.fetchall()]
        except (psycopg2.Error, OSError, TimeoutError) as exc:
            raise _unavailable(exc) from exc
        except DatabaseNotReady as exc:
            raise StoreUnavailable(str(exc)) from exc
        return Changes(issues=issues, service_states=states)


@dataclass
class _Touch:
    """What one transaction did to the issues of one (service, version)."""

    opened_since: datetime | None = None
    closed_at: datetime | None = None
    first_closed_since: datetime | None = None

    def add(self, issue: AlertIssue) -> None:
        if issue.is_open:
            self.opened_since = _earliest(self.opened_since, issue.alert_since)
        else:
            self.closed_at = _latest(self.closed_at, issue.resolved_at)
            self.first_closed_since = _earliest(self.first_closed_since, issue.alert_since)

    def placeholder(self) -> dict[str, Any]:
        """The row to create when the service has none yet (it is then final)."""
        if self.opened_since:
            return {"health_state": HealthState.ERROR.value, "report_at": _iso(self.opened_since), "resolved_at": None}
        return {
            "health_state": HealthState.NORMAL.value,
            "report_at": _iso(self.first_closed_since),
            "resolved_at": _iso(self.closed_at),
        }

    def change(self) -> dict[str, Any]:
        return {"opened_since": _iso(self.opened_since), "closed_at": _iso(self.closed_at)}


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    return min(x for x in (a, b) if x is not None) if (a or b) else None


def _latest(a: datetime | None, b: datetime | None) -> datetime | None:
    return max(x for x in (a, b) if x is not None) if (a or b) else None


def _unavailable(exc: BaseException) -> StoreUnavailable:
    sqlstate = getattr(exc, "pgcode", None)
    first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    log.error("database.error", sqlstate=sqlstate, error=first_line, error_type=type(exc).__name__)
    error = StoreUnavailable(f"database unavailable: {first_line}" if not sqlstate else f"database error {sqlstate}")
    error.sqlstate = sqlstate  # type: ignore[attr-defined]
    return error


def _json(rows: Iterable[dict[str, Any]]) -> str:
    return json.dumps(list(rows), ensure_ascii=False)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _issue_row(issue: AlertIssue) -> dict[str, Any]:
    return {
        "id": issue.id,
        "state": issue.state.value,
        "alert_state": issue.alert_state.value,
        "level": issue.level.value,
        "title": issue.title,
        "labels": [{"key": label.key, "value": label.value} for label in issue.labels],
        "alert_since": _iso(issue.alert_since),
        "resolved_at": _iso(issue.resolved_at),
        "fingerprint": issue.fingerprint,
        "service": issue.service,
        "service_version": issue.service_version,
        "alertname": issue.alertname,
    }


def _rejection_row(rejection: Rejection) -> dict[str, Any]:
    # ASCII escapes keep NUL and lone surrogates storable; the digest makes a redelivery a no-op.
    raw = json.dumps(rejection.raw, ensure_ascii=True)
    digest = hashlib.sha256(json.dumps(rejection.raw, ensure_ascii=True, sort_keys=True).encode()).hexdigest()
    return {"reason": rejection.reason, "raw": raw, "raw_digest": digest, "alert_index": rejection.index}


def _issue_from_row(row: Sequence[Any]) -> AlertIssue:
    (id_, state, alert_state, level, title, labels, since, resolved_at, fp, service, version, alertname) = row
    return AlertIssue(
        id=id_,
        state=State(state),
        alert_state=AlertState(alert_state),
        level=Level(level),
        title=title,
        labels=[Label(item["key"], item["value"]) for item in labels],
        alert_since=since,
        resolved_at=resolved_at,
        fingerprint=fp,
        service=service,
        service_version=version,
        alertname=alertname,
    )


def _state_from_row(row: Sequence[Any]) -> ServiceState:
    service, version, health, report_at, resolved_at, detail, correlation_id, updated_at = row
    return ServiceState(
        service, version, HealthState(health), report_at, resolved_at, detail, correlation_id, updated_at
    )
