"""Whole-state views of PostgreSQL and Redis, for tests that compare before and after."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any


def rfc3339(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    text = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond:06d}".rstrip("0")
    return text + "Z"


def database_rows(pg: Any) -> dict[str, list[dict[str, Any]]]:
    return {
        "alert_issues": pg.rows(
            "SELECT id, state, level, alert_state, title, labels, alert_since, resolved_at, fingerprint"
            " FROM alert_issues ORDER BY id"
        ),
        "service_states": pg.rows(
            "SELECT service, version, health_state, report_at, resolved_at FROM service_states ORDER BY 1, 2"
        ),
        "alert_rejections": pg.rows("SELECT reason, raw FROM alert_rejections ORDER BY id"),
    }


def redis_contents(rds: Any, include_internal: bool = False) -> dict[str, Any]:
    """Every key with its value; the delivery marks and the version hash only when asked."""
    contents: dict[str, Any] = {}
    for key in rds.keys("*"):
        internal = key.startswith("alert:idemp:") or key == "service_state:versions"
        if internal and not include_internal:
            continue
        kind = rds.type(key)
        if kind == "hash":
            contents[key] = rds.hgetall(key)
        elif kind == "set":
            contents[key] = rds.smembers(key)
        else:
            contents[key] = rds.get(key) if internal else json.loads(rds.get(key))
    return contents


def redis_expected_from(pg: Any) -> dict[str, Any]:
    """What SPEC §3.6 says Redis must hold for what PostgreSQL holds."""
    expected: dict[str, Any] = {}

    def add(key: str, member: str) -> None:
        expected.setdefault(key, set()).add(member)

    for row in pg.rows("SELECT * FROM alert_issues"):
        labels = {item["key"]: item["value"] for item in row["labels"]}
        service = labels.get("service", "")
        expected[f"alert:issue:{row['id']}"] = {
            "id": row["id"],
            "state": row["state"],
            "level": row["level"],
            "alertState": row["alert_state"],
            "title": row["title"],
            "labels": row["labels"],
            "alertSince": rfc3339(row["alert_since"]),
            "resolvedAt": rfc3339(row["resolved_at"]),
            "fingerprint": row["fingerprint"],
            "service": service,
            "alertname": labels.get("alertname", ""),
        }
        state = row["state"].lower()
        add(f"alert:index:{state}", row["id"])
        if service:
            add(f"alert:index:svc:{service}:{state}", row["id"])
    for row in pg.rows("SELECT * FROM service_states"):
        key = f"service_state:{row['service']}:{row['version']}"
        expected[key] = {
            "service": row["service"],
            "version": row["version"],
            "report_at": rfc3339(row["report_at"]),
            "resolved_at": rfc3339(row["resolved_at"]),
            "health_state": row["health_state"],
        }
        add(f"service_state:index:service:{row['service']}", key)
        add(f"service_state:index:health:{row['health_state']}", key)
    return expected
