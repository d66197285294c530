"""Hand-written fakes of our own ports, for use cases without I/O."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from application.errors import CacheUnavailable
from application.ports import Batch, Changes
from domain.model import AlertIssue, AlertState, Recorded, ServiceState, State


class FakeIssueStore:
    """Keeps the identity rules of the real store: one open issue per fingerprint, (fingerprint, since) unique."""

    def __init__(self) -> None:
        self.issues: dict[str, AlertIssue] = {}
        self.batches: list[Batch] = []
        self.fail_with: Exception | None = None
        self.changed: Changes = Changes()
        self.asked_since: datetime | None = None

    async def record(self, batch: Batch) -> Recorded:
        if self.fail_with:
            raise self.fail_with
        self.batches.append(batch)
        recorded = Recorded()
        for issue in batch.resolving:
            open_issue = self._open(issue.fingerprint)
            if open_issue:
                open_issue.state, open_issue.alert_state = State.CLOSED, AlertState.RESTORED
                open_issue.resolved_at = issue.resolved_at
                recorded.resolved.append(open_issue)
            elif self._insert(issue):
                recorded.resolved.append(issue)
        recorded.created = [i for i in batch.opening if self._insert(i)]
        return recorded

    def _open(self, fingerprint: str) -> AlertIssue | None:
        return next((i for i in self.issues.values() if i.fingerprint == fingerprint and i.is_open), None)

    def _insert(self, issue: AlertIssue) -> bool:
        same_event = any(
            i.fingerprint == issue.fingerprint and i.alert_since == issue.alert_since for i in self.issues.values()
        )
        if same_event or (issue.is_open and self._open(issue.fingerprint)):
            return False
        self.issues[issue.id] = issue
        return True

    async def changed_since(self, since: datetime) -> Changes:
        self.asked_since = since
        return self.changed


class FakeIssueCache:
    def __init__(self, known: Iterable[str] = ()) -> None:
        self.published: list[tuple[list[AlertIssue], list[ServiceState]]] = []
        self.known = set(known)
        self.remembered: list[str] = []
        self.fail = False

    async def seen(self, deliveries: Sequence[str]) -> set[str]:
        if self.fail:
            raise CacheUnavailable("redis down")
        return self.known & set(deliveries)

    async def publish(
        self, issues: Sequence[AlertIssue], states: Sequence[ServiceState], deliveries: Sequence[str] = ()
    ) -> None:
        if self.fail:
            raise CacheUnavailable("redis down")
        self.published.append((list(issues), list(states)))
        self.remembered.extend(deliveries)
        self.known.update(deliveries)
