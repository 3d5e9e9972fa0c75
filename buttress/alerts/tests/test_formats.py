"""The pure payload readers: fingerprints, times, mappings and the events each format gives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from buttress.alerts import formats
from buttress.alerts.formats import PayloadError
from buttress.alerts.tests.helpers import ALERTMANAGER, PAGERDUTY, PROMETHEUS

RECEIVED = datetime(2026, 8, 22, 10, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        # Computed by prometheus-alertmanager 0.25 for alerts added with amtool.
        (
            {
                "alertname": "HostDown",
                "customer": "acme",
                "instance": "srv1:9100",
                "severity": "critical",
            },
            "12a43d66db419d81",
        ),
        ({"alertname": "Ünïcode", "zone": "€uro"}, "c2646b7eaa96e81a"),
        ({"alertname": "X"}, "d2aeefc389ca7746"),
    ],
)
def test_fingerprint_matches_alertmanager(labels, expected):
    assert formats.fingerprint(labels) == expected


def test_fingerprint_ignores_label_order():
    assert formats.fingerprint({"a": "1", "b": "2"}) == formats.fingerprint({"b": "2", "a": "1"})


def test_fingerprint_separates_names_from_values():
    assert formats.fingerprint({"ab": "c"}) != formats.fingerprint({"a": "bc"})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-08-22T10:00:00Z", datetime(2026, 8, 22, 10, tzinfo=UTC)),
        ("2026-08-22T12:00:00+02:00", datetime(2026, 8, 22, 10, tzinfo=UTC)),
        (
            "2026-08-22T10:00:00.123456789Z",
            datetime(2026, 8, 22, 10, 0, 0, 123456, tzinfo=UTC),
        ),
        ("0001-01-01T00:00:00Z", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_time(text, expected):
    errors: list[str] = []

    assert formats.parse_time(text, "t", errors) == expected
    assert errors == []


@pytest.mark.parametrize("text", ["yesterday", 17, "2026-13-01T00:00:00Z"])
def test_parse_time_names_the_field_of_a_bad_time(text):
    errors: list[str] = []

    formats.parse_time(text, "alerts[0].startsAt", errors)

    assert len(errors) == 1
    assert errors[0].startswith("alerts[0].startsAt")


def test_alertmanager_fingerprint_is_computed_when_left_out():
    data = {"alerts": [{**ALERTMANAGER["alerts"][0]}]}
    del data["alerts"][0]["fingerprint"]

    (event,) = formats.parse_alertmanager(data).events

    assert event.fingerprint == formats.fingerprint(event.labels)
    assert event.group_key == ""


def test_alertmanager_summary_falls_back_to_common_annotations_then_alertname():
    data = {
        "commonAnnotations": {"summary": "shared text"},
        "alerts": [
            {"status": "firing", "labels": {"alertname": "A"}},
        ],
    }

    assert formats.parse_alertmanager(data).events[0].summary == "shared text"
    del data["commonAnnotations"]
    assert formats.parse_alertmanager(data).events[0].summary == "A"


def test_alertmanager_ignores_unknown_fields():
    data = {**ALERTMANAGER, "notification_reason": "new", "futureField": {"x": 1}}

    assert len(formats.parse_alertmanager(data).events) == 1


def test_prometheus_without_ends_at_expires_after_the_resolve_timeout():
    (event,) = formats.parse_prometheus(PROMETHEUS, received_at=RECEIVED).events

    assert event.action == formats.TRIGGER
    assert event.expires
    assert event.ends_at == RECEIVED + timedelta(minutes=5)


def test_prometheus_with_future_ends_at_fires_without_expiring():
    data = [{**PROMETHEUS[0], "endsAt": "2026-08-22T11:00:00Z"}]

    (event,) = formats.parse_prometheus(data, received_at=RECEIVED).events

    assert event.action == formats.TRIGGER
    assert not event.expires


def test_prometheus_empty_labels_are_refused():
    with pytest.raises(PayloadError) as caught:
        formats.parse_prometheus([{"labels": {}}], received_at=RECEIVED)

    assert caught.value.errors == ["[0].labels must name at least one label."]


def test_pagerduty_trigger_without_dedup_key_uses_the_generated_one():
    data = {**PAGERDUTY, "routing_key": "k"}
    del data["dedup_key"]

    batch = formats.parse_pagerduty(data, received_at=RECEIVED, generated_key="gen")

    assert batch.dedup_key == "gen"
    assert batch.events[0].fingerprint == "gen"


def test_pagerduty_bad_severity_and_timestamp_are_named():
    data = {**PAGERDUTY, "routing_key": "k"}
    data["payload"] = {**PAGERDUTY["payload"], "severity": "fatal", "timestamp": "soon"}

    with pytest.raises(PayloadError) as caught:
        formats.parse_pagerduty(data, received_at=RECEIVED, generated_key="gen")

    assert any(e.startswith("payload.severity") for e in caught.value.errors)
    assert any(e.startswith("payload.timestamp") for e in caught.value.errors)


def test_pagerduty_acknowledge_carries_only_the_key():
    data = {"routing_key": "k", "event_action": "acknowledge", "dedup_key": "d"}

    batch = formats.parse_pagerduty(data, received_at=RECEIVED, generated_key="gen")

    assert batch.dedup_key == "d"
    assert batch.events[0].action == formats.ACKNOWLEDGE


def test_clean_mapping_refuses_unknown_fields_and_bad_expressions():
    with pytest.raises(ValueError, match="Unknown mapping field 'colour'"):
        formats.clean_mapping({"colour": "x"})
    with pytest.raises(ValueError, match=r"summary: 'a\.\[' is not a JMESPath expression"):
        formats.clean_mapping({"summary": "a.["})
    with pytest.raises(ValueError, match="resolved_values must be a list of strings"):
        formats.clean_mapping({"resolved_values": "ok"})


def test_clean_mapping_normalises_status_values():
    cleaned = formats.clean_mapping({"summary": " title ", "resolved_values": [" OK ", ""]})

    assert cleaned == {"summary": "title", "resolved_values": ["ok"]}


def test_generic_status_values_choose_the_action():
    mapping = {"acknowledged_values": ["seen"]}
    body = [
        {"summary": "a", "status": "firing"},
        {"summary": "b", "status": "RESOLVED"},
        {"summary": "c", "status": "seen"},
    ]

    events = formats.parse_generic(body, mapping=mapping, received_at=RECEIVED).events

    assert [e.action for e in events] == [formats.TRIGGER, formats.RESOLVE, formats.ACKNOWLEDGE]


def test_generic_alerts_path_must_give_a_list():
    with pytest.raises(PayloadError, match="alerts \\(mapped from 'items'\\) must be a list"):
        formats.parse_generic({"items": {}}, mapping={"alerts": "items"}, received_at=RECEIVED)


def test_too_many_alerts_are_refused():
    data = {"alerts": [{"status": "firing", "labels": {"a": "b"}}] * (formats.MAX_ALERTS + 1)}

    with pytest.raises(PayloadError, match="more than"):
        formats.parse_alertmanager(data)


@pytest.mark.parametrize(
    "body",
    [b"", b"[", b"\xff", b'{"a": "\\u0000"}', b'{"a": "\\ud800"}'],
)
def test_load_json_refuses_what_cannot_be_stored(body):
    with pytest.raises(PayloadError):
        formats.load_json(body)
