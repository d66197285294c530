"""Alert issues and service health: the entities this service records."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


class State(enum.StrEnum):
    OPEN = "Open"
    CLOSED = "Closed"


class AlertState(enum.StrEnum):
    PENDING = "Pending"
    IN_PROCESSING = "InProcessing"
    RESTORED = "Restored"
    AUTO_RESTORED = "AutoRestored"


class HealthState(enum.StrEnum):
    NORMAL = "Normal"
    WARNING = "Warning"
    PROCESSING = "Processing"
    ERROR = "Error"


class Level(enum.StrEnum):
    P0 = "P0"
    P1 = "P1"
    P2 = "P2"
    WARNING = "Warning"


class Status(enum.StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


@dataclass(frozen=True)
class Alert:
    """One validated alert of a notification, with its own status."""

    status: Status
    fingerprint: str
    starts_at: datetime
    ends_at: datetime | None
    labels: dict[str, str]
    annotations: dict[str, str]
    generator_url: str = ""

    @property
    def service(self) -> str:
        return self.labels.get("service", "")

    @property
    def service_version(self) -> str:
        return self.labels.get("service_version", "")

    @property
    def alertname(self) -> str:
        return self.labels.get("alertname", "")

    @property
    def severity(self) -> str:
        return self.labels.get("severity", "")


@dataclass(frozen=True)
class Rejection:
    """An alert that failed validation, kept as a dead letter with its raw JSON."""

    index: int
    reason: str
    raw: object


@dataclass(frozen=True)
class Notification:
    """What one webhook call carried: valid alerts and rejected ones, in order."""

    alerts: tuple[Alert, ...]
    rejections: tuple[Rejection, ...] = ()
    group_key: str = ""
    receiver: str = ""


@dataclass(frozen=True)
class Label:
    key: str
    value: str


@dataclass
class AlertIssue:
    id: str
    state: State
    alert_state: AlertState
    level: Level
    title: str
    labels: list[Label]
    alert_since: datetime
    fingerprint: str
    resolved_at: datetime | None = None
    service: str = ""
    service_version: str = ""
    alertname: str = ""

    @property
    def is_open(self) -> bool:
        return self.state is State.OPEN


@dataclass
class ServiceState:
    service: str
    version: str
    health_state: HealthState
    report_at: datetime | None = None
    resolved_at: datetime | None = None
    detail: str | None = None
    correlation_id: str | None = None
    updated_at: datetime | None = None


@dataclass
class Recorded:
    """What the store did with a batch: the issues it changed and the service states it touched."""

    created: list[AlertIssue] = field(default_factory=list)
    resolved: list[AlertIssue] = field(default_factory=list)
    service_states: list[ServiceState] = field(default_factory=list)
