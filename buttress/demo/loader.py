"""Load the demo catalogue through the services, creating only what is missing."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, time

from django.db import transaction

from buttress.accounts import services as accounts
from buttress.accounts.models import Team, User
from buttress.assets import services as assets
from buttress.assets.models import Asset, AssetRelation
from buttress.demo.catalogue import CUSTOMERS, DEMO_PASSWORD, LOGINS, TEAMS, Customer, inventory
from buttress.desk import services as desk
from buttress.desk.models import Ticket
from buttress.oncall import services as oncall
from buttress.oncall.models import Schedule
from buttress.sla import services as sla
from buttress.sla.models import SlaPolicy
from buttress.tenancy import services as tenancy
from buttress.tenancy.models import Contact, Organization, Site


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
def load_demo() -> DemoSummary:
    """Create the demo organisations, CMDB, teams and logins; running it again changes nothing.

    Everything goes through the services with no actor, so the audit log shows it as done by
    the system.
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
