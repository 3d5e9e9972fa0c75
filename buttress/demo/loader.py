"""Load the demo catalogue through the services, creating only what is missing."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, time
from urllib.parse import urlsplit

from django.db import transaction

from buttress.accounts import services as accounts
from buttress.accounts.models import Team, User
from buttress.alerts.models import Integration
from buttress.alerts.services.integrations import create_integration
from buttress.assets import services as assets
from buttress.assets.models import Asset, AssetRelation
from buttress.catalogue import services as catalogue
from buttress.catalogue.models import CatalogueItem
from buttress.demo.catalogue import CUSTOMERS, DEMO_PASSWORD, LOGINS, TEAMS, Customer, inventory
from buttress.desk import services as desk
from buttress.desk.models import Ticket
from buttress.escalation import services as escalation
from buttress.escalation.models import EscalationPolicy
from buttress.monitoring import services as monitoring
from buttress.monitoring.models import Monitor, PingKind
from buttress.monitoring.pinging import PingRequest
from buttress.oncall import services as oncall
from buttress.oncall.models import Schedule
from buttress.response import services as response
from buttress.response.models import Incident
from buttress.sla import services as sla
from buttress.sla.models import SlaPolicy
from buttress.tenancy import services as tenancy
from buttress.tenancy.models import Contact, Organization, Site

DEFAULT_WEB_URL = "http://127.0.0.1:8000"


@dataclass
class DemoSummary:
    created: Counter[str] = field(default_factory=Counter)

    @property
    def changed(self) -> bool:
        return sum(self.created.values()) > 0

    def describe(self) -> str:
        if not self.changed:
            return "already loaded, nothing changed"
        parts = [f"{count} {what}" for what, count in sorted(self.created.items())]
        return "created " + ", ".join(parts)


@transaction.atomic
def load_demo(*, web_url: str = DEFAULT_WEB_URL, intake_url: str = "") -> DemoSummary:
    """Create the demo organisations, CMDB, teams and logins; running it again changes nothing.

    Everything goes through the services with no actor, so the audit log shows it as done by
    the system. ``web_url`` (and ``intake_url``, when the intake process runs) are where this
    installation answers: the demo's monitors check them.
    """
    summary = DemoSummary()
    orgs = {customer.slug: _organization(customer, summary) for customer in CUSTOMERS}
    _users(orgs, summary)
    teams = _teams(summary)
    _service_levels(teams, summary)
    _on_call(teams, summary)
    for customer in CUSTOMERS:
        _inventory(customer, orgs[customer.slug], teams, summary)
        _tickets(orgs[customer.slug], teams, summary)
        _catalogue(orgs[customer.slug], teams, summary)
    _escalation(teams, summary)
    _incident(orgs[CUSTOMERS[0].slug], summary)
    _monitoring(orgs[CUSTOMERS[0].slug], summary, web_url=web_url, intake_url=intake_url)
    return summary


def _organization(customer: Customer, summary: DemoSummary) -> Organization:
    org = Organization.objects.filter(slug=customer.slug).first()
    if org is None:
        org = tenancy.create_organization(
            actor=None,
            name=customer.name,
            slug=customer.slug,
            email_domains=[customer.domain],
            notes="Demo customer.",
        )
        summary.created["organisations"] += 1
    sites = []
    for name, address, zone in customer.sites:
        site = Site.objects.for_org(org).filter(name__iexact=name).first()
        if site is None:
            site = tenancy.create_site(org, actor=None, name=name, address=address, timezone=zone)
            summary.created["sites"] += 1
        sites.append(site)
    for name, local, title in customer.contacts:
        email = f"{local}@{customer.domain}"
        if not Contact.objects.for_org(org).filter(email=email).exists():
            tenancy.create_contact(
                org, actor=None, name=name, email=email, job_title=title, site=sites[0]
            )
            summary.created["contacts"] += 1
    return org


def _users(orgs: dict[str, Organization], summary: DemoSummary) -> None:
    for login in LOGINS:
        if User.objects.filter(email__iexact=login.email).exists():
            continue
        accounts.create_user(
            actor=None,
            email=login.email,
            role=login.role,
            password=DEMO_PASSWORD,
            full_name=login.full_name,
            organization=orgs[login.org_slug] if login.org_slug else None,
        )
        summary.created["users"] += 1


def _teams(summary: DemoSummary) -> dict[str, Team]:
    teams = {}
    for name, (description, emails) in TEAMS.items():
        team = Team.objects.filter(name__iexact=name).first()
        if team is None:
            members = User.objects.filter(email__in=emails)
            team = accounts.create_team(
                actor=None, name=name, description=description, members=members
            )
            summary.created["teams"] += 1
        teams[name] = team
    return teams


def _inventory(
    customer: Customer, org: Organization, teams: dict[str, Team], summary: DemoSummary
) -> None:
    items, relations = inventory(customer)
    sites = list(Site.objects.for_org(org).order_by("id"))
    names = {item.name.lower(): item.key for item in items}
    by_key = {
        names[asset.name.lower()]: asset
        for asset in Asset.objects.for_org(org).filter(name__in=[i.name for i in items])
        if asset.name.lower() in names
    }
    for item in items:
        if item.key in by_key:
            continue
        by_key[item.key] = assets.create_asset(
            org,
            actor=None,
            name=item.name,
            kind=item.kind,
            criticality=item.criticality,
            site=sites[min(item.site, len(sites) - 1)] if sites else None,
            owner_team=teams[item.team] if item.team else None,
            description=item.description,
            tags=item.tags,
            attributes=item.attributes,
        )
        summary.created["assets"] += 1
    existing = set(AssetRelation.objects.for_org(org).values_list("source_id", "kind", "target_id"))
    for source, kind, target in relations:
        if (by_key[source].pk, kind, by_key[target].pk) in existing:
            continue
        assets.relate_assets(by_key[source], actor=None, kind=kind, target=by_key[target])
        summary.created["relations"] += 1


@dataclass(frozen=True)
class DemoTicket:
    subject: str
    type: str
    impact: str
    urgency: str
    team: str
    status: str
    source: str
    reply: str = ""
    note: str = ""
    asset_kind: str = ""


DEMO_TICKETS = (
    DemoTicket(
        "VPN drops every few minutes",
        "incident",
        "high",
        "high",
        "Network Operations",
        "in_progress",
        "phone",
        reply="We can see the tunnel renegotiating; we are looking at the firewall now.",
        note="Phase 2 lifetime mismatch suspected after last week's firmware update.",
        asset_kind="firewall",
    ),
    DemoTicket(
        "Laptop for a new starter in accounts",
        "service_request",
        "low",
        "medium",
        "Service Desk",
        "new",
        "portal",
    ),
    DemoTicket(
        "Shared mailbox not receiving external mail",
        "incident",
        "medium",
        "high",
        "Infrastructure",
        "waiting_on_customer",
        "email",
        reply="Could you forward one of the bounce messages the sender received?",
        asset_kind="application",
    ),
    DemoTicket(
        "Printer on the first floor jams on duplex",
        "incident",
        "low",
        "low",
        "Service Desk",
        "resolved",
        "phone",
        reply="The duplex roller was worn; it has been replaced.",
    ),
)


OFFICE_HOURS = {str(day): [["08:00", "18:00"]] for day in range(5)}
ROUND_THE_CLOCK = {str(day): [["00:00", "24:00"]] for day in range(7)}
# Business minutes: first response, next response, resolution.
STANDARD_TARGETS = {
    "P1": {"first_response": 30, "next_response": 60, "resolution": 240},
    "P2": {"first_response": 60, "next_response": 120, "resolution": 480},
    "P3": {"first_response": 240, "next_response": 480, "resolution": 1440},
    "P4": {"first_response": 480, "next_response": 960, "resolution": 2880},
}
CRITICAL_TARGETS = {
    p: {"first_response": 15, "next_response": 30, "resolution": 240} for p in STANDARD_TARGETS
}


def _on_call(teams: dict[str, Team], summary: DemoSummary) -> None:
    """The infrastructure team's provider-wide schedule: a weekly round-the-clock rotation
    under a daily office-hours layer."""
    if Schedule.objects.filter(organization__isnull=True).exists():
        return
    engineers = list(
        User.objects.filter(email__in=["admin@provider.example", "agent@provider.example"])
    )
    if not engineers:
        return
    schedule = oncall.create_schedule(
        actor=None,
        organization=None,
        name="Infrastructure on call",
        timezone="Europe/London",
        description="Every customer's servers, storage and backups.",
        team=teams.get("Infrastructure"),
    )
    oncall.add_layer(
        schedule,
        actor=None,
        name="Round the clock",
        rotation="weekly",
        start_date=date(2026, 1, 5),
        handoff_time=time(9),
        participants=engineers,
    )
    oncall.add_layer(
        schedule,
        actor=None,
        name="Office hours",
        rotation="daily",
        start_date=date(2026, 1, 5),
        handoff_time=time(9),
        participants=engineers[::-1],
        restrictions={str(day): [["09:00", "17:00"]] for day in range(5)},
    )
    summary.created["on-call schedules"] += 1


def _service_levels(teams: dict[str, Team], summary: DemoSummary) -> None:
    """Office hours for most work, round the clock for P1, each with a warning ladder."""
    if SlaPolicy.objects.filter(organization__isnull=True).exists():
        return
    office = sla.create_calendar(
        actor=None,
        organization=None,
        name="Office hours (London)",
        timezone="Europe/London",
        weekly=OFFICE_HOURS,
        holiday_country="GB",
        holiday_subdivision="ENG",
    )
    always = sla.create_calendar(
        actor=None,
        organization=None,
        name="Round the clock",
        timezone="UTC",
        weekly=ROUND_THE_CLOCK,
    )
    escalate = next(iter(teams.values()), None)
    ladder: list[dict[str, object]] = [{"percent": 75, "action": "notify"}]
    if escalate is not None:
        ladder.append(
            {"minutes_before": 15, "action": "reassign", "clock": "resolution", "team": escalate.pk}
        )
    standard = sla.create_policy(
        actor=None,
        organization=None,
        name="Standard (office hours)",
        calendar=office,
        targets=STANDARD_TARGETS,
        warnings=ladder,
    )
    critical = sla.create_policy(
        actor=None,
        organization=None,
        name="Critical (24x7)",
        calendar=always,
        targets=CRITICAL_TARGETS,
        warnings=[{"percent": 50, "action": "notify"}, {"percent": 80, "action": "notify"}],
    )
    sla.create_rule(actor=None, policy=critical, priority="P1")
    sla.create_rule(actor=None, policy=standard)
    summary.created["SLA policies"] += 2


def _tickets(org: Organization, teams: dict[str, Team], summary: DemoSummary) -> None:
    """A few tickets per customer in different states, so the queue and timeline show something."""
    existing = set(Ticket.objects.filter(organization=org).values_list("subject", flat=True))
    requester = Contact.objects.for_org(org).order_by("id").first()
    agent = User.objects.filter(email="agent@provider.example").first()
    for demo in DEMO_TICKETS:
        if demo.subject in existing:
            continue
        linked = (
            list(Asset.objects.for_org(org).filter(kind=demo.asset_kind).order_by("id")[:1])
            if demo.asset_kind
            else []
        )
        ticket = desk.create_ticket(
            org,
            actor=None,
            subject=demo.subject,
            description=f"{demo.subject}. Reported by {requester.name if requester else 'a user'}.",
            type=demo.type,
            impact=demo.impact,
            urgency=demo.urgency,
            requester=requester,
            team=teams.get(demo.team),
            assignee=agent if demo.status != "new" else None,
            source=demo.source,
            assets=linked,
        )
        if demo.reply:
            desk.add_reply(ticket, actor=agent, body=demo.reply)
        if demo.note:
            desk.add_reply(ticket, actor=agent, body=demo.note, internal=True)
        if demo.status != ticket.status:
            desk.transition(ticket, demo.status, actor=agent)
        summary.created["tickets"] += 1


@dataclass(frozen=True)
class DemoField:
    key: str
    label: str
    kind: str = "text"
    required: bool = False
    choices: tuple[str, ...] = ()
    help_text: str = ""


@dataclass(frozen=True)
class DemoItem:
    name: str
    description: str
    category: str
    team: str
    urgency: str
    fields: tuple[DemoField, ...]


DEMO_ITEMS = (
    DemoItem(
        "New starter laptop",
        "A configured laptop with the standard software, ready on the first day.",
        "Hardware",
        "Service Desk",
        "medium",
        (
            DemoField("starter_name", "Name of the new starter", required=True),
            DemoField("start_date", "First working day", kind="date", required=True),
            DemoField(
                "model",
                "Laptop",
                kind="choice",
                required=True,
                choices=("Standard 14-inch", "Developer 16-inch"),
            ),
            DemoField(
                "software",
                "Extra software",
                kind="multi_choice",
                choices=("Visio", "Project", "Adobe Acrobat"),
            ),
        ),
    ),
    DemoItem(
        "Access to a shared folder",
        "Read or write access to a folder on the file server.",
        "Access",
        "Infrastructure",
        "low",
        (
            DemoField(
                "folder",
                "Folder path",
                required=True,
                help_text="As it appears in Explorer, e.g. \\\\files\\finance.",
            ),
            DemoField("access", "Access", kind="choice", required=True, choices=("Read", "Write")),
            DemoField("manager_email", "Approving manager's email", kind="email", required=True),
        ),
    ),
)


def _catalogue(org: Organization, teams: dict[str, Team], summary: DemoSummary) -> None:
    """Two items the customer can request, each with its form."""
    existing = set(CatalogueItem.objects.filter(organization=org).values_list("name", flat=True))
    for position, demo in enumerate(DEMO_ITEMS):
        if demo.name in existing:
            continue
        item = catalogue.create_item(
            actor=None,
            organization=org,
            name=demo.name,
            description=demo.description,
            category=demo.category,
            urgency=demo.urgency,
            team=teams.get(demo.team),
            position=position,
        )
        for question in demo.fields:
            catalogue.add_field(
                item,
                actor=None,
                key=question.key,
                label=question.label,
                kind=question.kind,
                required=question.required,
                choices=list(question.choices),
                help_text=question.help_text,
            )
        summary.created["catalogue items"] += 1


ESCALATION_POLICY = "On-call (demo)"


def _escalation(teams: dict[str, Team], summary: DemoSummary) -> None:
    """One shared policy: the demo agent is paged first, then the infrastructure team."""
    shared = EscalationPolicy.objects.filter(organization__isnull=True)
    if shared.filter(name=ESCALATION_POLICY).exists():
        return
    agents = list(User.objects.filter(email="agent@provider.example", is_active=True))
    if not agents:
        return
    steps = [escalation.StepSpec(wait_minutes=0, users=agents, teams=[])]
    if "Infrastructure" in teams:
        steps.append(
            escalation.StepSpec(wait_minutes=15, users=[], teams=[teams["Infrastructure"]])
        )
    escalation.create_policy(
        None,
        actor=None,
        name=ESCALATION_POLICY,
        description="Pages the on-call agent, then the infrastructure team if nobody answers.",
        steps=steps,
        repeat=1,
        ack_timeout=60,
        # A default someone already chose stays the default.
        is_default=not shared.filter(is_default=True).exists(),
    )
    summary.created["escalation policies"] += 1


def _incident(org: Organization, summary: DemoSummary) -> None:
    """The customer's VPN outage is run as an incident: a severity and a commander."""
    ticket = (
        Ticket.objects.filter(organization=org, type="incident", subject=DEMO_TICKETS[0].subject)
        .order_by("id")
        .first()
    )
    commander = User.objects.filter(email="agent@provider.example", is_active=True).first()
    if ticket is None or commander is None:
        return
    if Incident.objects.filter(ticket=ticket).exists():
        return
    response.set_severity(ticket, "SEV2", actor=None, reason="Remote staff cannot stay connected.")
    response.assign_role(ticket, role="commander", user=commander, actor=None)
    summary.created["incidents"] += 1


def _monitoring(org: Organization, summary: DemoSummary, *, web_url: str, intake_url: str) -> None:
    """Monitors a visitor sees working at once: this installation's own health endpoints (up),
    a service nothing listens for (down, so it opens an incident through the organisation's
    monitoring integration), a TCP port, and heartbeats of scheduled jobs (one reported just
    now, one never yet); plus an Alertmanager integration to send alerts to."""
    existing = set(Monitor.objects.for_org(org).values_list("name", flat=True))
    checks: list[tuple[str, str, dict[str, object], int]] = [
        ("Service desk web", "http", {"url": f"{web_url.rstrip('/')}/healthz"}, 60),
        ("Legacy intranet", "http", {"url": "http://127.0.0.1:9/"}, 60),
        ("Service desk port", "tcp", _host_port(web_url), 60),
    ]
    if intake_url:
        checks.insert(1, ("Ping intake", "http", {"url": f"{intake_url.rstrip('/')}/healthz"}, 60))
    for name, kind, config, interval in checks:
        if name in existing:
            continue
        monitoring.create_monitor(
            org, actor=None, name=name, kind=kind, config=config, interval=interval
        )
        summary.created["monitors"] += 1
    if "Nightly backup" not in existing:
        backup = monitoring.create_monitor(
            org,
            actor=None,
            name="Nightly backup",
            kind="heartbeat",
            slug="nightly-backup",
            period=24 * 3600,
            grace=3600,
        )
        monitoring.ping_by_uuid(
            backup.uuid, PingRequest(kind=PingKind.SUCCESS, user_agent="demo", method="GET")
        )
        summary.created["monitors"] += 1
    if "Payroll export" not in existing:
        monitoring.create_monitor(
            org,
            actor=None,
            name="Payroll export",
            kind="heartbeat",
            slug="payroll-export",
            schedule_kind="cron",
            schedule="30 2 * * 1-5",
            tz="Europe/London",
            grace=1800,
        )
        summary.created["monitors"] += 1
    if not Integration.objects.filter(organization=org, name="Prometheus (production)").exists():
        create_integration(org, actor=None, name="Prometheus (production)", kind="alertmanager")
        summary.created["alert integrations"] += 1


def _host_port(url: str) -> dict[str, object]:
    parts = urlsplit(url)
    return {"host": parts.hostname or "127.0.0.1", "port": parts.port or 80}
