"""RedisIssueCache: the write-through read model and the duplicate hint (SPEC §3.3, §3.6)."""

from __future__ import annotations

import contextlib
import json
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as redis
from redis.exceptions import RedisError

from adapters.redis.breaker import CircuitBreaker
from application.errors import CacheUnavailable
from domain.model import AlertIssue, HealthState, ServiceState, State
from domain.rules import rfc3339

_STATES = {State.OPEN: "open", State.CLOSED: "closed"}
_CHUNK = 1000
# A pipeline command: a method name of the pipeline and its arguments, or "script" and
# (script, keys, args).
_Command = tuple[str, tuple[Any, ...]]


def issue_key(issue_id: str) -> str:
    return f"alert:issue:{issue_id}"


def index_key(state: State, service: str = "") -> str:
    return f"alert:index:svc:{service}:{_STATES[state]}" if service else f"alert:index:{_STATES[state]}"


def service_state_key(service: str, version: str) -> str:
    return f"service_state:{service}:{version}"


def health_index_key(health: HealthState) -> str:
    return f"service_state:index:health:{health.value}"


def service_index_key(service: str) -> str:
    return f"service_state:index:service:{service}"


def issue_document(issue: AlertIssue) -> dict[str, object]:
    return {
        "id": issue.id,
        "state": issue.state.value,
        "level": issue.level.value,
        "alertState": issue.alert_state.value,
        "title": issue.title,
        "labels": [{"key": label.key, "value": label.value} for label in issue.labels],
        "alertSince": _time(issue.alert_since),
        "resolvedAt": _time(issue.resolved_at),
        "fingerprint": issue.fingerprint,
        "service": issue.service,
        "alertname": issue.alertname,
    }


def service_state_document(state: ServiceState) -> dict[str, object]:
    return {
        "service": state.service,
        "version": state.version,
        "report_at": _time(state.report_at),
        "resolved_at": _time(state.resolved_at),
        "health_state": state.health_state.value,
    }


def _time(moment: datetime | None) -> str | None:
    return rfc3339(moment) if moment else None


def delivery_key(delivery: str) -> str:
    return f"alert:idemp:{delivery}"


SERVICE_STATE_VERSIONS = "service_state:versions"

# Instances write the cache after their own commits, so two writes of one key can arrive in the
# other order than they committed. A closed issue never reopens: an Open write never replaces a
# Closed document. KEYS: issue key, then (set to leave, set to join) pairs; ARGV: document, ttl, id.
_WRITE_OPEN_ISSUE = """
local current = redis.call('GET', KEYS[1])
if current and cjson.decode(current)['state'] == 'Closed' then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
for i = 2, #KEYS, 2 do
    redis.call('SREM', KEYS[i], ARGV[3])
    redis.call('SADD', KEYS[i + 1], ARGV[3])
end
return 1
"""

# A service state carries its row's updated_at (microseconds) as a version, kept in one hash:
# an older version never replaces a newer one. KEYS: state key, versions hash, service index,
# the health set to join, the health sets to leave; ARGV: version, document, ttl.
_WRITE_SERVICE_STATE = """
local current = redis.call('HGET', KEYS[2], KEYS[1])
if current and tonumber(current) > tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[2], KEYS[1], ARGV[1])
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
redis.call('SADD', KEYS[3], KEYS[1])
for i = 5, #KEYS do redis.call('SREM', KEYS[i], KEYS[1]) end
redis.call('SADD', KEYS[4], KEYS[1])
return 1
"""


class RedisIssueCache:
    def __init__(
        self,
        client: redis.Redis,
        ttl_seconds: int,
        delivery_ttl_seconds: int,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self._client = client
        self._ttl = ttl_seconds
        self._delivery_ttl = delivery_ttl_seconds
        self._breaker = breaker or CircuitBreaker(cooldown_seconds=0)
        self._write_open_issue = client.register_script(_WRITE_OPEN_ISSUE)
        self._write_service_state = client.register_script(_WRITE_SERVICE_STATE)

    async def seen(self, deliveries: Sequence[str]) -> set[str]:
        if not deliveries:
            return set()
        async with self._guarded():
            values = await self._client.mget([delivery_key(d) for d in deliveries])
        return {d for d, v in zip(deliveries, values, strict=True) if v is not None}

    async def publish(
        self, issues: Sequence[AlertIssue], states: Sequence[ServiceState], deliveries: Sequence[str] = ()
    ) -> None:
        # MULTI/EXEC per chunk: a reader never sees an id in both the open and the closed set.
        commands = [
            *self._issue_commands(issues),
            *self._state_commands(states),
            *(("set", (delivery_key(d), "1", self._delivery_ttl)) for d in deliveries),
        ]
        async with self._guarded():
            for start in range(0, len(commands), _CHUNK):
                async with self._client.pipeline(transaction=True) as pipe:
                    for name, args in commands[start : start + _CHUNK]:
                        if name == "script":
                            script, keys, argv = args
                            await script(keys=keys, args=argv, client=pipe)  # queued, run by execute()
                        else:
                            getattr(pipe, name)(*args)
                    await pipe.execute()

    @contextlib.asynccontextmanager
    async def _guarded(self) -> AsyncIterator[None]:
        self._breaker.check()
        try:
            yield
        except (RedisError, OSError) as exc:
            self._breaker.failed(exc)
            raise CacheUnavailable(f"redis: {exc}") from exc
        self._breaker.succeeded()

    def _issue_commands(self, issues: Iterable[AlertIssue]) -> Iterable[_Command]:
        moves = _SetMoves()
        for issue in issues:
            body = json.dumps(issue_document(issue), ensure_ascii=False)
            if issue.is_open:
                keys = [issue_key(issue.id), index_key(State.CLOSED), index_key(State.OPEN)]
                if issue.service:
                    keys += [index_key(State.CLOSED, issue.service), index_key(State.OPEN, issue.service)]
                yield "script", (self._write_open_issue, keys, [body, self._ttl, issue.id])
                continue
            yield "set", (issue_key(issue.id), body, self._ttl)
            moves.move(issue.id, index_key(State.OPEN), index_key(State.CLOSED))
            if issue.service:
                moves.move(issue.id, index_key(State.OPEN, issue.service), index_key(State.CLOSED, issue.service))
        yield from moves.commands()

    def _state_commands(self, states: Iterable[ServiceState]) -> Iterable[_Command]:
        for state in states:
            key = service_state_key(state.service, state.version)
            body = json.dumps(service_state_document(state), ensure_ascii=False)
            others = [health_index_key(h) for h in HealthState if h is not state.health_state]
            keys = [key, SERVICE_STATE_VERSIONS, service_index_key(state.service), health_index_key(state.health_state)]
            yield "script", (self._write_service_state, keys + others, [_version(state), body, self._ttl])


def _version(state: ServiceState) -> int:
    moment = state.updated_at or datetime.now(UTC)
    return int(moment.timestamp() * 1_000_000)


class _SetMoves:
    """Set memberships to change, sent as one SREM and one SADD per set rather than one per member:
    every removal before any addition, so a member is never seen in two sets at once."""

    def __init__(self) -> None:
        self._remove: dict[str, list[str]] = defaultdict(list)
        self._add: dict[str, list[str]] = defaultdict(list)

    def move(self, member: str, source: str | None, target: str | None) -> None:
        if source:
            self._remove[source].append(member)
        if target:
            self._add[target].append(member)

    def commands(self) -> Iterable[_Command]:
        for key, members in self._remove.items():
            yield "srem", (key, *members)
        for key, members in self._add.items():
            yield "sadd", (key, *members)
