"""Alertmanager-shaped payloads for tests."""

from __future__ import annotations

import copy
from typing import Any

SEED: dict[str, Any] = {
    "receiver": "our-webhook",
    "status": "firing",
    "alerts": [
        {
            "status": "firing",
            "labels": {
                "alertname": "HighRequestLatency",
                "service": "serviceA",
                "severity": "P1",
                "idc": "yzh",
                "service_version": "v1.3.7",
            },
            "annotations": {"summary": "p95 latency over threshold", "description": "apitime p95 > 450ms"},
            "startsAt": "2025-05-05T11:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus/graph?g0.expr=...",
            "fingerprint": "3b1b7f4e8f0e",
        }
    ],
    "groupLabels": {"alertname": "HighRequestLatency"},
    "commonLabels": {"service": "serviceA", "severity": "P1"},
    "version": "4",
}


def seed(**changes: Any) -> dict[str, Any]:
    payload = copy.deepcopy(SEED)
    payload.update(changes)
    return payload


def seed_resolved(ends_at: str = "2025-05-05T11:30:00Z") -> dict[str, Any]:
    payload = seed(status="resolved")
    payload["alerts"][0].update(status="resolved", endsAt=ends_at)
    return payload


def alert(
    name: str = "Test",
    *,
    status: str = "firing",
    service: str | None = "svc",
    starts_at: str = "2025-05-05T11:00:00Z",
    ends_at: str = "0001-01-01T00:00:00Z",
    fingerprint: str | None = None,
    severity: str | None = "P2",
    summary: str | None = None,
    **labels: str,
) -> dict[str, Any]:
    all_labels = {"alertname": name, **labels}
    if service is not None:
        all_labels["service"] = service
    if severity is not None:
        all_labels["severity"] = severity
    raw: dict[str, Any] = {
        "status": status,
        "labels": all_labels,
        "annotations": {"summary": summary} if summary is not None else {},
        "startsAt": starts_at,
        "endsAt": ends_at,
        "generatorURL": "",
    }
    if fingerprint is not None:
        raw["fingerprint"] = fingerprint
    return raw


def notification(*alerts: dict[str, Any], status: str = "firing", **extra: Any) -> dict[str, Any]:
    return {"version": "4", "receiver": "test", "status": status, "groupKey": "{}:{}", "alerts": list(alerts), **extra}
