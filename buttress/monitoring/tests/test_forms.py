"""The monitor forms: every kind created from the web, bad targets shown on their field, the
kind's fields swapped with HTMX, edits, deletion with confirmation, and the list's uptime bars."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from buttress.audit.models import AuditEntry
from buttress.monitoring import services
from buttress.monitoring.forms import config_field_name, kind_options
from buttress.monitoring.models import Monitor, StateChange

pytestmark = pytest.mark.django_db

CREATE = reverse("monitoring:create")

MINIMAL = {
    "http": {"config_url": "https://example.com/health"},
    "tcp": {"config_host": "db.example.com", "config_port": "5432"},
    "icmp": {"config_host": "example.com"},
    "dns": {"config_name": "example.com", "config_expected": "192.0.2.1\n192.0.2.2"},
    "tls": {"config_host": "example.com"},
    "smtp": {"config_host": "mail.example.com", "config_tls": "starttls", "config_port": "587"},
    "imap": {"config_host": "mail.example.com", "config_tls": "implicit", "config_port": "993"},
    "heartbeat": {
        "slug": "nightly",
        "schedule_kind": "cron",
        "schedule": "0 3 * * *",
        "tz": "Europe/Paris",
        "grace": "600",
    },
}
EXPECTED_CONFIG = {
    "http": {"url": "https://example.com/health"},
    "tcp": {"host": "db.example.com", "port": 5432},
    "icmp": {"host": "example.com"},
    "dns": {"name": "example.com", "expected": ["192.0.2.1", "192.0.2.2"]},
    "tls": {"host": "example.com"},
    "smtp": {"host": "mail.example.com", "tls": "starttls", "port": 587},
    "imap": {"host": "mail.example.com", "tls": "implicit", "port": 993},
    "heartbeat": {},
}


def _post(client: Client, org, kind: str, **fields: str):
    data = {
        "organization": org.pk,
        "kind": kind,
        "name": f"{kind} check",
        "interval": "60",
        "tz": "UTC",
        "schedule_kind": "simple",
        "grace": "3600",
        "period": "86400",
    }
    if kind != "heartbeat":
        # A browser sends the ticked boxes; the form shows the spec's defaults ticked.
        data |= {
            config_field_name(option): "on"
            for option, _, spec_field in kind_options(kind)
            if spec_field.default is True
        }
    data |= MINIMAL[kind]
    data |= fields
    return client.post(CREATE, data)


def _errors(response) -> dict[str, list[str]]:
    form = response.context["form"]
    return {name: list(errors) for name, errors in form.errors.items()}


@pytest.mark.parametrize("kind", list(MINIMAL))
def test_every_kind_is_created_from_the_form(client: Client, agent, org, kind):
    client.force_login(agent)

    response = _post(client, org, kind)

    assert response.status_code == 302, _errors(response)
    monitor = Monitor.objects.get(name=f"{kind} check")
    assert monitor.organization == org
    assert monitor.kind == kind
    assert monitor.config == EXPECTED_CONFIG[kind]
    assert response.url == reverse("monitoring:detail", args=[monitor.pk])
    assert AuditEntry.objects.filter(object_type="monitoring.monitor", action="create").exists()


def test_heartbeat_schedule_comes_from_the_form(client: Client, agent, org):
    client.force_login(agent)

    _post(client, org, "heartbeat")

    monitor = Monitor.objects.get(kind="heartbeat")
    assert (monitor.slug, monitor.schedule_kind, monitor.schedule, monitor.tz, monitor.grace) == (
        "nightly",
        "cron",
        "0 3 * * *",
        "Europe/Paris",
        600,
    )


def test_http_options_are_kept_when_they_differ_from_the_defaults(client: Client, agent, org):
    client.force_login(agent)

    response = _post(
        client,
        org,
        "http",
        config_method="HEAD",
        config_headers="Accept: application/json\nX-Probe: 1",
        config_expected_status="200-299, 301",
        config_json_assertions='[{"path": "status", "op": "==", "value": "ok"}]',
        config_timeout="5",
        config_verify_tls="",
    )

    assert response.status_code == 302, _errors(response)
    assert Monitor.objects.get().config == {
        "url": "https://example.com/health",
        "method": "HEAD",
        "headers": {"Accept": "application/json", "X-Probe": "1"},
        "expected_status": "200-299, 301",
        "json_assertions": [{"path": "status", "op": "==", "value": "ok"}],
        "timeout": 5.0,
        "verify_tls": False,
    }


@pytest.mark.parametrize(
    ("kind", "fields", "field", "words"),
    [
        ("http", {"config_url": "not a url"}, "config_url", ""),
        ("http", {"config_url": "ftp://example.com/"}, "config_url", ""),
        ("http", {"config_headers": "no colon here"}, "config_headers", "Line 1"),
        ("http", {"config_json_assertions": "[{"}, "config_json_assertions", "JSON"),
        (
            "http",
            {"config_json_assertions": '[{"path": "a[", "op": "=="}]'},
            "config_json_assertions",
            "json_assertions[0].path",
        ),
        ("http", {"config_expected_status": "banana"}, "config_expected_status", ""),
        ("tcp", {"config_port": "70000"}, "config_port", ""),
        ("tcp", {"config_host": "bad host name!"}, "config_host", ""),
        ("tcp", {"config_port": "many"}, "config_port", ""),
        ("dns", {"config_record_type": "BOGUS"}, "config_record_type", ""),
        ("tls", {"config_host": ""}, "config_host", ""),
        ("heartbeat", {"schedule": "61 * * * *"}, "schedule", ""),
        ("heartbeat", {"tz": "Mars/Olympus"}, "tz", ""),
        ("heartbeat", {"slug": "Not A Slug"}, "slug", ""),
        ("heartbeat", {"grace": "5"}, "grace", ""),
        ("http", {"interval": "1"}, "interval", ""),
    ],
)
def test_a_bad_value_is_a_form_error_on_its_field(  # noqa: PLR0917
    client: Client, agent, org, kind, fields, field, words
):
    client.force_login(agent)

    response = _post(client, org, kind, **fields)

    assert response.status_code == 200
    errors = _errors(response)
    assert field in errors, errors
    assert words in " ".join(errors[field])
    assert not Monitor.objects.exists()


def test_an_unknown_kind_is_a_form_error(client: Client, agent, org):
    client.force_login(agent)

    response = client.post(CREATE, {"organization": org.pk, "kind": "gopher", "name": "x"})

    assert response.status_code == 200
    assert "kind" in _errors(response)


def test_changing_the_kind_sends_that_kinds_fields(client: Client, agent, org):
    client.force_login(agent)

    response = client.get(
        CREATE, {"organization": org.pk, "kind": "tcp"}, headers={"HX-Request": "true"}
    )

    page = response.text
    assert response.status_code == 200
    assert 'id="kind-fields"' in page
    assert 'name="config_port"' in page
    assert 'name="config_url"' not in page
    assert "<html" not in page


def test_the_full_form_has_the_htmx_kind_switch(client: Client, agent, org):
    client.force_login(agent)

    page = client.get(CREATE, {"organization": org.pk}).text

    assert 'hx-get="/monitors/new/"' in page
    assert 'name="config_url"' in page


def test_another_organisations_form_is_not_found(client: Client, org_admin, other_org):
    client.force_login(org_admin)

    assert client.get(CREATE, {"organization": other_org.pk}).status_code == 404
    assert client.post(CREATE, {"organization": other_org.pk, "kind": "http"}).status_code == 404


def test_a_viewer_may_not_add_monitors(client: Client, viewer, org):
    client.force_login(viewer)

    assert client.get(CREATE, {"organization": org.pk}).status_code == 403


def test_edit_changes_the_check_and_keeps_the_kind(client: Client, agent, org):
    monitor = services.create_monitor(
        org, actor=None, name="site", kind="tcp", config={"host": "a.example.com", "port": 22}
    )
    client.force_login(agent)
    url = reverse("monitoring:edit", args=[monitor.pk])

    form_page = client.get(url).text
    response = client.post(
        url,
        {
            "name": "ssh",
            "interval": "30",
            "config_host": "b.example.com",
            "config_port": "2222",
            "kind": "http",
        },
    )

    assert 'value="a.example.com"' in form_page
    assert response.status_code == 302, _errors(response)
    monitor.refresh_from_db()
    assert (monitor.name, monitor.kind, monitor.interval) == ("ssh", "tcp", 30)
    assert monitor.config == {"host": "b.example.com", "port": 2222}


def test_edit_shows_a_bad_value_on_its_field(client: Client, agent, org):
    monitor = services.create_monitor(
        org, actor=None, name="site", kind="http", config={"url": "https://example.com/"}
    )
    client.force_login(agent)

    response = client.post(
        reverse("monitoring:edit", args=[monitor.pk]),
        {"name": "site", "interval": "60", "config_url": "javascript:alert(1)"},
    )

    assert response.status_code == 200
    assert "config_url" in _errors(response)
    monitor.refresh_from_db()
    assert monitor.config == {"url": "https://example.com/"}


def test_delete_asks_then_deletes(client: Client, agent, org):
    monitor = services.create_monitor(org, actor=None, name="backup", kind="heartbeat")
    client.force_login(agent)
    url = reverse("monitoring:delete", args=[monitor.pk])

    confirm = client.get(url)
    assert confirm.status_code == 200
    assert Monitor.objects.filter(pk=monitor.pk).exists()

    response = client.post(url)

    assert response.status_code == 302
    assert not Monitor.objects.filter(pk=monitor.pk).exists()


def _list_queries(client: Client) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("monitoring:list")).status_code == 200
    return len(queries)


def test_list_shows_uptime_bars_in_a_constant_number_of_queries(client: Client, agent, org):
    client.force_login(agent)

    def add(count: int) -> None:
        for _ in range(count):
            monitor = Monitor.objects.create(
                organization=org, name=f"m{Monitor.objects.count()}", kind="http", status="up"
            )
            StateChange.objects.create(
                organization=org,
                monitor=monitor,
                at=monitor.created_at,
                from_status="unknown",
                to_status="up",
            )

    add(2)
    _list_queries(client)  # the first request also loads the session and caches
    few = _list_queries(client)
    add(20)
    many = _list_queries(client)
    page = client.get(reverse("monitoring:list")).text

    assert many == few
    assert page.count('class="uptime-bars"') == 22
    assert "100.00 %" in page


def test_edit_moves_a_heartbeat_from_cron_to_a_period(client: Client, agent, org):
    monitor = services.create_monitor(
        org,
        actor=None,
        name="backup",
        kind="heartbeat",
        schedule_kind="cron",
        schedule="0 3 * * *",
        tz="Europe/Paris",
    )
    client.force_login(agent)

    response = client.post(
        reverse("monitoring:edit", args=[monitor.pk]),
        {
            "name": "backup",
            "slug": "",
            "schedule_kind": "simple",
            "period": "7200",
            "grace": "900",
            "schedule": "0 3 * * *",
            "tz": "UTC",
        },
    )

    assert response.status_code == 302, _errors(response)
    monitor.refresh_from_db()
    assert (monitor.schedule_kind, monitor.period, monitor.grace, monitor.schedule) == (
        "simple",
        7200,
        900,
        "",
    )
