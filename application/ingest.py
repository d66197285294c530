"""Use case: turn one Alertmanager notification into alert issues."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from application.errors import CacheUnavailable
from application.ports import Batch, Clock, IssueCache, IssueStore
from domain.model import Alert, AlertIssue, Level, Notification, Recorded, Rejection, ServiceState
from domain.rules import delivery_key, issue_for


@dataclass
class IngestResult:
    created: list[AlertIssue] = field(default_factory=list)
    resolved: list[AlertIssue] = field(default_factory=list)
    duplicates: list[Alert] = field(default_factory=list)
    rejected: tuple[Rejection, ...] = ()
    service_states: list[ServiceState] = field(default_factory=list)
    cache_error: str | None = None


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_issue_id() -> str:
    return str(uuid.uuid4())


class IngestNotification:
    """Record every alert of a notification once, by its own status, then write the cache through.

    The store is the judge of duplicates; the cache's memory of deliveries only spares it known
    ones, and is written after the commit so that a failed write can never make its retry look
    like a duplicate.
    """

    def __init__(
        self,
        store: IssueStore,
        cache: IssueCache,
        clock: Clock = utc_now,
        new_id: Callable[[], str] = new_issue_id,
        level_map: Mapping[str, Level] | None = None,
    ) -> None:
        self._store = store
        self._cache = cache
        self._clock = clock
        self._new_id = new_id
        self._level_map = dict(level_map or {})

    async def __call__(self, notification: Notification) -> IngestResult:
        result = IngestResult(rejected=notification.rejections)
        alerts = self._first_per_fingerprint(notification.alerts, result.duplicates)
        keys = [delivery_key(a) for a in alerts]
        try:
            known = await self._cache.seen(keys)
        except CacheUnavailable:
            known = set()
        fresh = [a for a, k in zip(alerts, keys, strict=True) if k not in known]
        result.duplicates.extend(a for a, k in zip(alerts, keys, strict=True) if k in known)

        now = self._clock()
        issues = [
            issue_for(a, issue_id=self._new_id(), group_key=notification.group_key, level_map=self._level_map, now=now)
            for a in fresh
        ]
        batch = Batch(
            opening=[i for i in issues if i.is_open],
            resolving=[i for i in issues if not i.is_open],
            rejections=notification.rejections,
            receiver=notification.receiver,
            group_key=notification.group_key,
        )
        # Known duplicates only: nothing for the database to judge.
        recorded = await self._store.record(batch) if issues or batch.rejections else Recorded()
        result.created, result.resolved = recorded.created, recorded.resolved
        result.service_states = recorded.service_states
        changed = {i.fingerprint for i in recorded.created + recorded.resolved}
        result.duplicates.extend(a for a in fresh if a.fingerprint not in changed)

        # Cache after commit: a cache write must never hide a failed database write.
        try:
            await self._cache.publish(
                recorded.created + recorded.resolved,
                recorded.service_states,
                deliveries=[k for k in keys if k not in known],
            )
        except CacheUnavailable as exc:
            result.cache_error = str(exc) or type(exc).__name__
        return result

    @staticmethod
    def _first_per_fingerprint(alerts: tuple[Alert, ...], duplicates: list[Alert]) -> list[Alert]:
        seen: set[str] = set()
        first = []
        for alert in alerts:
            if alert.fingerprint in seen:
                duplicates.append(alert)
            else:
                seen.add(alert.fingerprint)
                first.append(alert)
        return first
