from datetime import UTC, datetime

import pytest
from django.contrib.auth import authenticate

from buttress.accounts.models import Team, User
from buttress.alerts.models import Integration
from buttress.assets.models import Asset, AssetRelation, Tag
from buttress.assets.services import impact_of
from buttress.audit.models import AuditEntry
from buttress.catalogue.models import CatalogueField, CatalogueItem
from buttress.demo.catalogue import CUSTOMERS, DEMO_PASSWORD, LOGINS
from buttress.demo.loader import load_demo
from buttress.desk.models import Reply, Ticket
from buttress.escalation.models import EscalationPolicy, EscalationStep
from buttress.escalation.services import default_policy_for
from buttress.monitoring.models import Monitor, Ping
from buttress.oncall.models import Schedule
from buttress.oncall.services import on_call
from buttress.response.models import Incident, RoleAssignment
from buttress.tenancy.models import Contact, Organization, Site

pytestmark = pytest.mark.django_db

MODELS = (
    Organization,
    Site,
    Contact,
    User,
    Team,
    Asset,
    AssetRelation,
    Tag,
    AuditEntry,
    CatalogueItem,
    CatalogueField,
    EscalationPolicy,
    EscalationStep,
    Incident,
    RoleAssignment,
    Monitor,
    Ping,
    Integration,
)


@pytest.fixture(autouse=True)
def fast_hashing(settings):
    # Five demo logins hashed with the production hasher would dominate these tests' time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in MODELS}


def test_loading_twice_changes_nothing_the_second_time():
    first = load_demo()
    before = _counts()

    second = load_demo()

    assert first.changed
    assert not second.changed
    assert _counts() == before


def test_loading_fills_in_what_is_missing_without_duplicating():
    load_demo()
    org = Organization.objects.get(slug="contoso")
    Asset.objects.get(organization=org, name="cd-web01").delete()

    summary = load_demo()

    assert summary.created["assets"] == 1
    assert Asset.objects.filter(organization=org, name="cd-web01").count() == 1
    assert summary.created["relations"] > 0


def test_each_customer_gets_sites_contacts_and_a_connected_cmdb():
    load_demo()

    for customer in CUSTOMERS:
        org = Organization.objects.get(slug=customer.slug)
        assert Site.objects.for_org(org).count() == len(customer.sites)
        assert Contact.objects.for_org(org).count() == len(customer.contacts)
        kinds = set(Asset.objects.for_org(org).values_list("kind", flat=True))
        assert {"server", "virtual_machine", "database", "application", "website"} <= kinds
        assert {"network_device", "service"} <= kinds
        relation_kinds = set(AssetRelation.objects.for_org(org).values_list("kind", flat=True))
        assert relation_kinds == {"depends_on", "runs_on", "connects_to"}


def test_the_impact_of_a_storage_failure_reaches_the_business_service():
    load_demo()
    org = Organization.objects.get(slug="northwind")
    storage = Asset.objects.get(organization=org, name="nw-san01")

    impacted = {item.asset.name: item.depth for item in impact_of(storage)}

    assert impacted["nw-hv01"] == 1
    assert impacted["Order fulfilment"] >= 4


def test_every_demo_login_signs_in_with_the_demo_password():
    load_demo()

    for login in LOGINS:
        user = authenticate(email=login.email, password=DEMO_PASSWORD)
        assert user is not None, login.email
        assert user.role == login.role


def test_the_demo_is_audited_as_done_by_the_system():
    load_demo()

    assert AuditEntry.objects.exists()
    # Only the demo tickets' conversation is written by a person, the demo agent.
    by_people = AuditEntry.objects.filter(actor__isnull=False)
    assert set(by_people.values_list("actor__email", flat=True)) == {"agent@provider.example"}
    assert not by_people.exclude(object_type__startswith="desk.").exists()


def test_each_customer_gets_tickets_in_several_states_once():
    load_demo()
    load_demo()

    for org in Organization.objects.all():
        tickets = Ticket.objects.filter(organization=org)
        assert tickets.count() == 4
        assert set(tickets.values_list("status", flat=True)) == {
            "new",
            "in_progress",
            "waiting_on_customer",
            "resolved",
        }
    assert Reply.objects.filter(is_internal=True).exists()
    assert Ticket.objects.filter(assets__isnull=False).exists()
    # The demo's service levels run clocks on them: waiting pauses, resolving meets.
    states = dict(Ticket.objects.values_list("status", "sla_state").distinct())
    assert states["waiting_on_customer"] == "paused"
    assert states["resolved"] == "met"
    assert states["new"] in ("running", "warning")


def test_the_demo_has_an_on_call_schedule_with_two_layers():
    load_demo()

    schedule = Schedule.objects.get(organization__isnull=True)
    assert schedule.layers.count() == 2
    # Wednesday 14 January 2026 in London: office hours are the daily layer's (its tenth day,
    # so its second person), the evening the weekly layer's (its second week).
    [day] = on_call(schedule, datetime(2026, 1, 14, 10, tzinfo=UTC))
    [evening] = on_call(schedule, datetime(2026, 1, 14, 20, tzinfo=UTC))
    assert day.email == "admin@provider.example"
    assert evening.email == "agent@provider.example"


def test_each_customer_can_request_catalogue_items_with_forms():
    load_demo()

    for org in Organization.objects.all():
        items = CatalogueItem.objects.filter(organization=org, is_active=True)
        assert items.count() >= 2
        for item in items:
            assert CatalogueField.objects.filter(item=item, required=True).exists()
    kinds = set(CatalogueField.objects.values_list("kind", flat=True))
    assert {"text", "date", "choice", "email"} <= kinds


def test_one_shared_default_escalation_policy_pages_the_demo_agent():
    load_demo()
    load_demo()

    policy = EscalationPolicy.objects.get(organization__isnull=True)
    assert policy.is_default
    first = policy.steps.get(position=0)
    assert [u.email for u in first.users.all()] == ["agent@provider.example"]
    for org in Organization.objects.all():
        assert default_policy_for(org) == policy


def test_an_existing_shared_default_escalation_policy_stays_the_default():
    from buttress.escalation import services as escalation

    agent = User.objects.create(email="oncall@provider.example", role="agent")
    chosen = escalation.create_policy(
        None,
        actor=None,
        name="Ours",
        steps=[escalation.StepSpec(wait_minutes=0, users=[agent], teams=[])],
        is_default=True,
    )

    load_demo()

    chosen.refresh_from_db()
    assert chosen.is_default
    assert EscalationPolicy.objects.filter(is_default=True).count() == 1


def test_one_demo_incident_has_a_severity_and_a_commander():
    load_demo()
    load_demo()

    incident = Incident.objects.get()
    assert incident.ticket.type == "incident"
    assert incident.severity == "SEV2"
    commander = RoleAssignment.objects.get(incident=incident, role="commander")
    assert commander.user.email == "agent@provider.example"


def test_the_demo_monitors_check_where_this_installation_answers():
    load_demo(web_url="http://127.0.0.1:8123", intake_url="http://127.0.0.1:8124")

    org = Organization.objects.get(slug=CUSTOMERS[0].slug)
    monitors = {m.name: m for m in Monitor.objects.for_org(org)}
    assert monitors["Service desk web"].config["url"] == "http://127.0.0.1:8123/healthz"
    assert monitors["Ping intake"].config["url"] == "http://127.0.0.1:8124/healthz"
    assert monitors["Service desk port"].config == {"host": "127.0.0.1", "port": 8123}
    assert monitors["Legacy intranet"].kind == "http"
    backup = monitors["Nightly backup"]
    assert backup.kind == "heartbeat"
    assert backup.status == "up"
    assert Ping.objects.filter(monitor=backup).count() == 1
    assert monitors["Payroll export"].schedule == "30 2 * * 1-5"
    assert monitors["Payroll export"].status == "unknown"  # never reported yet
    assert Integration.objects.filter(organization=org, kind="alertmanager").count() == 1


def test_without_an_intake_process_no_intake_monitor_is_made():
    load_demo()

    names = set(Monitor.objects.values_list("name", flat=True))
    assert "Ping intake" not in names
    assert "Service desk web" in names
