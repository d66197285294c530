"""How an alert becomes an issue: level, title and labels (SPEC §3.2)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from domain.model import Alert, AlertIssue, AlertState, Label, Level, State, Status

TITLE_MAX_CHARS = 255
DEFAULT_TITLE = "Alert from Alertmanager"
_TITLE_LABELS = ("idc", "service", "alertname")


def level_for(severity: str, mapping: Mapping[str, Level] | None = None) -> Level:
    key = severity.strip().lower()
    if mapping and key in mapping:
        return mapping[key]
    for level in Level:
        if level.value.lower() == key:
            return level
    return Level.WARNING


def title_for(labels: Mapping[str, str], annotations: Mapping[str, str]) -> str:
    title = annotations.get("summary", "").strip()
    if not title:
        title = " ".join(p for p in (labels.get(k, "").strip() for k in _TITLE_LABELS) if p)
    # str slicing counts code points, so a multi-byte character is never cut in half.
    return (title or DEFAULT_TITLE)[:TITLE_MAX_CHARS]


def labels_for(alert: Alert, group_key: str = "") -> list[Label]:
    labels = [Label(k, alert.labels[k]) for k in sorted(alert.labels)]
    labels.append(Label("am_fingerprint", alert.fingerprint))
    if alert.generator_url:
        labels.append(Label("generatorURL", alert.generator_url))
    if group_key:
        labels.append(Label("groupKey", group_key))
    return labels


def issue_for(
    alert: Alert,
    *,
    issue_id: str,
    group_key: str = "",
    level_map: Mapping[str, Level] | None = None,
    now: datetime | None = None,
) -> AlertIssue:
    """The issue an alert opens; a resolved alert whose firing was never seen is recorded already closed."""
    issue = AlertIssue(
        id=issue_id,
        state=State.OPEN,
        alert_state=AlertState.PENDING,
        level=level_for(alert.severity, level_map),
        title=title_for(alert.labels, alert.annotations),
        labels=labels_for(alert, group_key),
        alert_since=alert.starts_at,
        fingerprint=alert.fingerprint,
        service=alert.service,
        service_version=alert.service_version,
        alertname=alert.alertname,
    )
    if alert.status is Status.RESOLVED:
        issue.state = State.CLOSED
        issue.alert_state = AlertState.RESTORED
        issue.resolved_at = resolved_at_for(alert, now)
    return issue


def resolved_at_for(alert: Alert, now: datetime | None = None) -> datetime:
    return alert.ends_at or now or datetime.now(UTC)


def rfc3339(moment: datetime) -> str:
    """UTC, `Z`, the fraction's trailing zeros dropped: `2025-05-05T11:00:00Z`, `2025-05-05T11:00:00.5Z`."""
    utc = moment.astimezone(UTC)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if utc.microsecond:
        text += f".{utc.microsecond:06d}".rstrip("0")
    return text + "Z"


def delivery_key(alert: Alert) -> str:
    """Identity of one delivery of an alert event: `{fingerprint}|{startsAt}`, plus `|resolved` for a resolution."""
    key = f"{alert.fingerprint}|{rfc3339(alert.starts_at)}"
    return key + "|resolved" if alert.status is Status.RESOLVED else key
