"""Use case: copy recent changes from the source of truth into the cache."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from application.ingest import utc_now
from application.ports import Clock, IssueCache, IssueStore


@dataclass(frozen=True)
class CatchUpResult:
    issues: int
    service_states: int


class CatchUpCache:
    """Re-write into the cache every issue and service state changed within the look-back window."""

    def __init__(self, store: IssueStore, cache: IssueCache, clock: Clock = utc_now) -> None:
        self._store = store
        self._cache = cache
        self._clock = clock

    async def __call__(self, lookback: timedelta) -> CatchUpResult:
        changes = await self._store.changed_since(self._clock() - lookback)
        await self._cache.publish(changes.issues, changes.service_states)
        return CatchUpResult(issues=len(changes.issues), service_states=len(changes.service_states))
