"""What the use cases need from the outside world, named by role."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from domain.model import AlertIssue, Recorded, Rejection, ServiceState


@dataclass(frozen=True)
class Batch:
    """Everything one notification asks to write, in one transaction."""

    opening: Sequence[AlertIssue] = ()
    resolving: Sequence[AlertIssue] = ()
    rejections: Sequence[Rejection] = ()
    receiver: str = ""
    group_key: str = ""


@dataclass
class Changes:
    issues: list[AlertIssue] = field(default_factory=list)
    service_states: list[ServiceState] = field(default_factory=list)


class IssueStore(Protocol):
    """The source of truth for issues and service health."""

    async def record(self, batch: Batch) -> Recorded:
        """Write the batch in one transaction and say what changed; raises StoreUnavailable, committing nothing."""
        ...

    async def changed_since(self, since: datetime) -> Changes:
        """Issues and service states changed at or after `since`."""
        ...


class IssueCache(Protocol):
    """The fast read model of issues and service states, with a short-lived memory of the deliveries
    already recorded; raises CacheUnavailable."""

    async def seen(self, deliveries: Sequence[str]) -> set[str]:
        """Those of the deliveries recorded lately: a hint that spares the store, never the judge."""
        ...

    async def publish(
        self, issues: Sequence[AlertIssue], states: Sequence[ServiceState], deliveries: Sequence[str] = ()
    ) -> None:
        """Write the issues and service states, move them between their index sets, and remember the deliveries."""
        ...


class Clock(Protocol):
    def __call__(self) -> datetime: ...
