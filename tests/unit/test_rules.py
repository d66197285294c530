from datetime import UTC, datetime

import pytest

from domain.fingerprint import fingerprint
from domain.model import Alert, AlertState, Level, State, Status
from domain.rules import delivery_key, issue_for, labels_for, level_for, rfc3339, title_for

SINCE = datetime(2025, 5, 5, 11, tzinfo=UTC)


def an_alert(**changes) -> Alert:
    values = dict(
        status=Status.FIRING,
        fingerprint="3b1b7f4e8f0e",
        starts_at=SINCE,
        ends_at=None,
        labels={"alertname": "HighRequestLatency", "service": "serviceA", "severity": "P1", "idc": "yzh"},
        annotations={"summary": "p95 latency over threshold"},
        generator_url="http://prometheus/graph",
    )
    values.update(changes)
    return Alert(**values)


@pytest.mark.parametrize(
    "severity, level",
    [
        ("P0", Level.P0),
        ("p1", Level.P1),
        (" P2 ", Level.P2),
        ("warning", Level.WARNING),
        ("WARNING", Level.WARNING),
        ("critical", Level.WARNING),
        ("", Level.WARNING),
        ("P3", Level.WARNING),
    ],
)
def test_level_follows_severity_and_falls_back_to_warning(severity, level):
    assert level_for(severity) is level


def test_configured_severities_map_to_their_level_case_insensitively():
    assert level_for(" Critical ", {"critical": Level.P0}) is Level.P0
    assert level_for("P1", {"critical": Level.P0}) is Level.P1


def test_title_is_the_trimmed_summary():
    assert title_for({}, {"summary": "  disk full  "}) == "disk full"


def test_title_without_summary_joins_idc_service_and_alertname():
    labels = {"idc": "yzh", "service": " ", "alertname": "HighRequestLatency"}
    assert title_for(labels, {"summary": "  "}) == "yzh HighRequestLatency"


def test_title_without_anything_is_the_default():
    assert title_for({}, {}) == "Alert from Alertmanager"


def test_title_is_cut_at_255_characters_without_splitting_one():
    title = title_for({}, {"summary": "é" * 300})
    assert title == "é" * 255
    assert len(title_for({}, {"summary": "😀" * 256})) == 255


def test_labels_are_sorted_then_fingerprint_generator_url_and_group_key():
    keys = [label.key for label in labels_for(an_alert(), group_key='{}:{alertname="x"}')]
    assert keys == ["alertname", "idc", "service", "severity", "am_fingerprint", "generatorURL", "groupKey"]


def test_empty_generator_url_and_group_key_are_left_out():
    keys = [label.key for label in labels_for(an_alert(generator_url=""), group_key="")]
    assert keys[-1] == "am_fingerprint"


def test_a_firing_alert_opens_a_pending_issue():
    issue = issue_for(an_alert(), issue_id="id-1")
    assert (issue.state, issue.alert_state, issue.level) == (State.OPEN, AlertState.PENDING, Level.P1)
    assert (issue.alert_since, issue.resolved_at, issue.service) == (SINCE, None, "serviceA")


def test_a_resolved_alert_without_end_time_is_closed_now():
    now = datetime(2025, 5, 6, tzinfo=UTC)
    issue = issue_for(an_alert(status=Status.RESOLVED), issue_id="id-1", now=now)
    assert (issue.state, issue.alert_state, issue.resolved_at) == (State.CLOSED, AlertState.RESTORED, now)


def test_rfc3339_is_utc_with_trailing_fraction_zeros_dropped():
    assert rfc3339(SINCE) == "2025-05-05T11:00:00Z"
    assert rfc3339(SINCE.replace(microsecond=500000)) == "2025-05-05T11:00:00.5Z"
    assert rfc3339(SINCE.replace(microsecond=120)) == "2025-05-05T11:00:00.00012Z"


def test_delivery_key_distinguishes_the_resolution():
    assert delivery_key(an_alert()) == "3b1b7f4e8f0e|2025-05-05T11:00:00Z"
    assert delivery_key(an_alert(status=Status.RESOLVED)) == "3b1b7f4e8f0e|2025-05-05T11:00:00Z|resolved"


def test_fingerprint_of_no_labels_is_the_fnv_offset_basis():
    assert fingerprint({}) == "cbf29ce484222325"


def test_fingerprint_ignores_label_order_and_separates_names_from_values():
    assert fingerprint({"a": "1", "b": "2"}) == fingerprint({"b": "2", "a": "1"})
    assert fingerprint({"ab": "c"}) != fingerprint({"a": "bc"})
    assert len(fingerprint({"alertname": "x"})) == 16
