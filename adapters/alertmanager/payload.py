"""Alertmanager's webhook payload (version 4) → a domain Notification.

Each alert is judged on its own: an invalid one becomes a Rejection and the rest go on.
Unknown fields are ignored, as Alertmanager adds fields over time.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime

from domain.fingerprint import fingerprint as compute_fingerprint
from domain.model import Alert, Notification, Rejection, Status

ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)
# service and service_version key service_states and an index of open issues: a btree entry
# holds at most ~2.7 kB, and an alert too big for it would fail its whole notification forever.
INDEXED_LABELS = ("service", "service_version")
MAX_INDEXED_LABEL_BYTES = 1000
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MAX_SHOWN = 64


class PayloadError(ValueError):
    """The notification as a whole cannot be processed; the message says what and where."""


def parse_json(body: bytes) -> object:
    try:
        return json.loads(body)
    except json.JSONDecodeError as exc:
        raise PayloadError(f"body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except UnicodeDecodeError:
        raise PayloadError("body is not valid JSON: not UTF-8 text") from None
    except RecursionError:
        raise PayloadError("body is not valid JSON: nested too deeply") from None


def to_notification(document: object, max_alerts: int) -> Notification:
    if not isinstance(document, dict):
        raise PayloadError("body must be a JSON object")
    if "alerts" not in document:
        raise PayloadError("alerts missing")
    raw_alerts = document["alerts"]
    if not isinstance(raw_alerts, list):
        raise PayloadError("alerts must be a list")
    if not raw_alerts:
        raise PayloadError("alerts empty")
    if len(raw_alerts) > max_alerts:
        raise PayloadError(f"alerts has {len(raw_alerts)} entries, more than webhook.max_alerts ({max_alerts})")
    try:
        group_key = _optional_text(document, "groupKey", "groupKey")
        receiver = _optional_text(document, "receiver", "receiver")
    except _Invalid as exc:
        raise PayloadError(str(exc)) from None

    alerts: list[Alert] = []
    rejections: list[Rejection] = []
    for index, raw in enumerate(raw_alerts):
        try:
            alerts.append(_alert(raw, f"alerts[{index}]"))
        except _Invalid as exc:
            rejections.append(Rejection(index=index, reason=str(exc), raw=raw))
    return Notification(alerts=tuple(alerts), rejections=tuple(rejections), group_key=group_key, receiver=receiver)


def parse_time(text: str) -> datetime:
    """RFC 3339 with any offset, converted to UTC; fractions finer than microseconds are cut."""
    match = re.fullmatch(r"(\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d)(\.\d+)?([Zz]|[+-]\d\d:\d\d)", text)
    if not match:
        raise ValueError(text)
    head, fraction, offset = match.groups()
    fraction = (fraction or "")[:7]
    offset = "+00:00" if offset in ("Z", "z") else offset
    moment = datetime.fromisoformat(f"{head[:10]}T{head[11:]}{fraction}{offset}")
    return moment.astimezone(UTC)


class _Invalid(ValueError):
    pass


def _alert(raw: object, path: str) -> Alert:
    if not isinstance(raw, dict):
        raise _Invalid(f"{path} must be an object")
    status = _status(raw.get("status"), f"{path}.status")
    labels = _string_map(raw.get("labels"), f"{path}.labels")
    annotations = _string_map(raw.get("annotations"), f"{path}.annotations")
    starts_at = _start_time(raw.get("startsAt"), f"{path}.startsAt")
    ends_at = _time(raw.get("endsAt"), f"{path}.endsAt")
    if status is Status.RESOLVED and ends_at is not None and ends_at < starts_at:
        raise _Invalid(f"{path}.endsAt before startsAt")
    for key in INDEXED_LABELS:
        if len(labels.get(key, "").encode("utf-8")) > MAX_INDEXED_LABEL_BYTES:
            raise _Invalid(f"{path}.labels.{key} longer than {MAX_INDEXED_LABEL_BYTES} bytes")
    fingerprint = _optional_text(raw, "fingerprint", f"{path}.fingerprint") or compute_fingerprint(labels)
    if len(fingerprint) > 255:
        raise _Invalid(f"{path}.fingerprint longer than 255 characters")
    return Alert(
        status=status,
        fingerprint=fingerprint,
        starts_at=starts_at,
        ends_at=ends_at,
        labels=labels,
        annotations=annotations,
        generator_url=_optional_text(raw, "generatorURL", f"{path}.generatorURL"),
    )


def _status(value: object, path: str) -> Status:
    if value is None or value == "":
        return Status.FIRING
    if isinstance(value, str):
        for status in Status:
            if status.value == value.strip().lower():
                return status
    raise _Invalid(f"{path} unknown: {_shown(value)}")


def _string_map(value: object, path: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _Invalid(f"{path} must be an object")
    for key, item in value.items():
        where = f"{path}{_key_path(key)}"
        _check_text(key, where)
        if not isinstance(item, str):
            raise _Invalid(f"{where} must be a string")
        _check_text(item, where)
    return dict(value)


def _start_time(value: object, path: str) -> datetime:
    if value is None or value == "":
        raise _Invalid(f"{path} empty")
    moment = _time(value, path)
    if moment is None:
        raise _Invalid(f"{path} is the zero time")
    return moment


def _time(value: object, path: str) -> datetime | None:
    """The time in UTC; None when empty or Go's zero time (Alertmanager's "not set")."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _Invalid(f"{path} must be a string")
    try:
        moment = parse_time(value)
    except (ValueError, OverflowError):
        raise _Invalid(f"{path} is not an RFC 3339 time: {_shown(value)}") from None
    return None if moment == ZERO_TIME else moment


def _optional_text(document: Mapping[str, object], field: str, path: str) -> str:
    value = document.get(field)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _Invalid(f"{path} must be a string")
    _check_text(value, path)
    return value


def _check_text(text: str, path: str) -> None:
    # PostgreSQL text and jsonb cannot hold NUL, and a lone surrogate cannot be encoded as UTF-8.
    if "\x00" in text:
        raise _Invalid(f"{path} contains a NUL character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise _Invalid(f"{path} is not valid Unicode") from None


def _key_path(key: str) -> str:
    return f".{key}" if _IDENTIFIER.match(key) else f"[{json.dumps(key)[:_MAX_SHOWN]}]"


def _shown(value: object) -> str:
    text = json.dumps(value)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."
