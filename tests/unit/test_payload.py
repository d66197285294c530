import json
from datetime import UTC, datetime

import pytest

from adapters.alertmanager.payload import PayloadError, parse_json, to_notification
from domain.fingerprint import fingerprint
from domain.model import Status
from tests.support.payloads import alert, notification, seed


def parse(document):
    return to_notification(document, max_alerts=5000)


@pytest.mark.parametrize(
    "body, message",
    [
        (b"{bad", "body is not valid JSON"),
        (b"\xff\xfe\x00", "body is not valid JSON"),
        (b"[" * 100000 + b"]" * 100000, "body is not valid JSON"),
    ],
)
def test_a_body_that_is_not_json_is_refused_with_the_reason(body, message):
    with pytest.raises(PayloadError, match=message):
        parse_json(body)


@pytest.mark.parametrize(
    "document, message",
    [
        ([], "body must be a JSON object"),
        ("text", "body must be a JSON object"),
        ({}, "alerts missing"),
        ({"alerts": {}}, "alerts must be a list"),
        ({"alerts": []}, "alerts empty"),
        ({"alerts": [alert()], "groupKey": 5}, "groupKey must be a string"),
        ({"alerts": [alert()], "receiver": "a\x00b"}, "receiver contains a NUL character"),
    ],
)
def test_a_malformed_notification_is_refused_naming_what_and_where(document, message):
    with pytest.raises(PayloadError, match=message):
        parse(document)


def test_more_alerts_than_max_alerts_is_refused():
    with pytest.raises(PayloadError, match=r"alerts has 3 entries, more than webhook.max_alerts \(2\)"):
        to_notification(notification(alert("a"), alert("b"), alert("c")), max_alerts=2)


def test_the_seed_parses_into_one_firing_alert():
    (parsed,) = parse(seed()).alerts
    assert parsed.status is Status.FIRING
    assert parsed.fingerprint == "3b1b7f4e8f0e"
    assert parsed.starts_at == datetime(2025, 5, 5, 11, tzinfo=UTC)
    assert parsed.ends_at is None
    assert parsed.generator_url == "http://prometheus/graph?g0.expr=..."


def test_any_offset_is_converted_to_utc_and_nanoseconds_are_cut():
    (parsed,) = parse(notification(alert(starts_at="2025-05-05T13:00:00.123456789+02:00"))).alerts
    assert parsed.starts_at == datetime(2025, 5, 5, 11, 0, 0, 123456, tzinfo=UTC)


@pytest.mark.parametrize(
    "status, expected", [("RESOLVED", Status.RESOLVED), ("Firing", Status.FIRING), ("", Status.FIRING)]
)
def test_status_is_case_insensitive_and_empty_means_firing(status, expected):
    assert parse(notification(alert(status=status, ends_at=""))).alerts[0].status is expected


def test_each_alert_is_judged_by_its_own_status_not_the_summary():
    parsed = parse(
        notification(alert("a"), alert("b", status="resolved", ends_at="2025-05-05T12:00:00Z"), status="firing")
    )
    assert [a.status for a in parsed.alerts] == [Status.FIRING, Status.RESOLVED]


def test_null_or_absent_labels_and_annotations_are_empty():
    raw = {"startsAt": "2025-05-05T11:00:00Z", "labels": None}
    (parsed,) = parse({"alerts": [raw]}).alerts
    assert (parsed.labels, parsed.annotations) == ({}, {})


def test_a_missing_fingerprint_is_computed_as_alertmanager_does():
    (parsed,) = parse(notification(alert("Disk", service="db"))).alerts
    assert parsed.fingerprint == fingerprint({"alertname": "Disk", "service": "db", "severity": "P2"})


def test_unknown_fields_are_ignored():
    document = notification(alert(), truncatedAlerts=3, notification_reason="x", routeLabels={"a": "b"})
    document["alerts"][0]["somethingNew"] = {"nested": [1]}
    assert len(parse(document).alerts) == 1


@pytest.mark.parametrize(
    "change, reason",
    [
        ({"startsAt": None}, "alerts[0].startsAt empty"),
        ({"startsAt": ""}, "alerts[0].startsAt empty"),
        ({"startsAt": 17}, "alerts[0].startsAt must be a string"),
        ({"startsAt": "yesterday"}, 'alerts[0].startsAt is not an RFC 3339 time: "yesterday"'),
        ({"startsAt": "2025-05-05T11:00:00"}, "alerts[0].startsAt is not an RFC 3339 time"),
        ({"startsAt": "2025-13-05T11:00:00Z"}, "alerts[0].startsAt is not an RFC 3339 time"),
        ({"startsAt": "0001-01-01T00:00:00Z"}, "alerts[0].startsAt is the zero time"),
        ({"startsAt": "0001-01-01T00:00:00+01:00"}, "alerts[0].startsAt is not an RFC 3339 time"),
        ({"status": "pending"}, 'alerts[0].status unknown: "pending"'),
        ({"status": 1}, "alerts[0].status unknown: 1"),
        ({"labels": ["a"]}, "alerts[0].labels must be an object"),
        ({"labels": {"team": 7}}, "alerts[0].labels.team must be a string"),
        ({"labels": {"a b": None}}, 'alerts[0].labels["a b"] must be a string'),
        ({"labels": {"x": "a\x00b"}}, "alerts[0].labels.x contains a NUL character"),
        ({"labels": {"x": "\ud800"}}, "alerts[0].labels.x is not valid Unicode"),
        ({"annotations": {"summary": 1}}, "alerts[0].annotations.summary must be a string"),
        ({"fingerprint": 12}, "alerts[0].fingerprint must be a string"),
        ({"fingerprint": "f" * 256}, "alerts[0].fingerprint longer than 255 characters"),
        ({"status": "resolved", "endsAt": "2025-05-05T10:00:00Z"}, "alerts[0].endsAt before startsAt"),
        ({"labels": {"service": "s" * 1001}}, "alerts[0].labels.service longer than 1000 bytes"),
        ({"labels": {"service_version": "é" * 501}}, "alerts[0].labels.service_version longer than 1000 bytes"),
    ],
)
def test_an_invalid_alert_is_rejected_with_its_reason_and_raw_json(change, reason):
    raw = alert()
    raw.update(change)
    parsed = parse(notification(raw, alert("fine")))
    assert [a.labels["alertname"] for a in parsed.alerts] == ["fine"]
    (rejection,) = parsed.rejections
    assert rejection.reason.startswith(reason)
    assert (rejection.index, rejection.raw) == (0, raw)


def test_an_alert_that_is_not_an_object_is_rejected():
    (rejection,) = parse({"alerts": ["nope", alert()]}).rejections
    assert rejection.reason == "alerts[0] must be an object"


@pytest.mark.parametrize(
    "labels, expected",
    [  # printed by a real Alertmanager 0.25 (GET /api/v2/alerts) for alerts posted without a fingerprint
        ({"alertname": "A"}, "d2c6efc389df0927"),
        (
            {
                "alertname": "HighRequestLatency",
                "idc": "yzh",
                "service": "serviceA",
                "service_version": "v1.3.7",
                "severity": "P1",
            },
            "80cc2a30f373df9e",
        ),
        ({"alertname": "Ünïcödé", "instance": "数据库 🚀", "quote": "a \"b\" 'c' \\ d"}, "80add96b877e4283"),
        ({"a": "3", "aa": "2", "alertname": "Order", "zz": "1"}, "fcea1a3bb500128f"),
        ({"alertname": "A", "x": "日本"}, "34bf9b0831a0ba37"),
        ({"alertname": "Long", "value": "y" * 10000}, "4e90162f10ed7911"),
    ],
)
def test_computed_fingerprints_equal_those_alertmanager_printed(labels, expected):
    assert fingerprint(labels) == expected


def test_hostile_label_values_pass_through_unchanged():
    hostile = {"q": "'; DROP TABLE alert_issues; --", "u": "ünïcødé 🚨", "long": "x" * 20000, "nl": "a\nb"}
    raw = alert()
    raw["labels"].update(hostile)
    (parsed,) = parse(json.loads(json.dumps(notification(raw)))).alerts
    assert {k: parsed.labels[k] for k in hostile} == hostile
