"""Every page that names an object answers 404 to a user of another organisation.

The URL patterns are read from the resolver, so a page added later is covered without
touching this test; a pattern with a parameter this test cannot fill fails it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from buttress.accounts.models import Role, User
from buttress.assets import services as asset_services
from buttress.desk import services as desk_services
from buttress.desk.services import attachments as attachment_services
from buttress.desk.services import macros as macro_services
from buttress.desk.services import saved_views
from buttress.lib.timeutil import now
from buttress.maintenance import services as maintenance_services
from buttress.monitoring.models import Monitor
from buttress.sla import services as sla_services
from buttress.sla.tests.helpers import make_policy
from buttress.tenancy.models import Organization
from buttress.testing.factories import AssetFactory, ContactFactory, SiteFactory, UserFactory

pytestmark = pytest.mark.django_db

UI_NAMESPACES = {
    "web",
    "tenancy",
    "assets",
    "audit",
    "desk",
    "sla",
    "portal",
    "maintenance",
    "monitoring",
}


def _patterns(
    resolvers: list[URLPattern | URLResolver], namespace: str | None = None
) -> Iterator[tuple[str, URLPattern]]:
    for entry in resolvers:
        if isinstance(entry, URLResolver):
            yield from _patterns(entry.url_patterns, entry.namespace or namespace)
        elif namespace in UI_NAMESPACES and entry.name:
            yield f"{namespace}:{entry.name}", entry


def _parameters(pattern: URLPattern) -> list[str]:
    converters: dict[str, Any] = getattr(pattern.pattern, "converters", {})
    if converters:
        return list(converters)
    return list(pattern.pattern.regex.groupindex)


# Pages whose link itself is the permission (signed and expiring, or a monitor's secret uuid
# that cron jobs ping): anyone holding it may use it.
SIGNED_LINK_PAGES = {"desk:survey", "monitoring:ping"}


def ui_patterns_with_parameters() -> list[tuple[str, list[str]]]:
    found = [(name, _parameters(p)) for name, p in _patterns(get_resolver().url_patterns)]
    return sorted(
        (name, params) for name, params in found if params and name not in SIGNED_LINK_PAGES
    )


@pytest.fixture
def objects_of(org: Organization) -> dict[str, Callable[[], Any]]:
    """How to fill each URL parameter with an object of ``org``."""
    web = AssetFactory.create(organization=org, name="web01")
    db = AssetFactory.create(organization=org, name="db01")
    relation = asset_services.relate_assets(web, actor=None, kind="depends_on", target=db)
    site = SiteFactory.create(organization=org)
    contact = ContactFactory.create(organization=org)
    ticket = desk_services.create_ticket(org, actor=None, subject="Printer jammed", assets=[web])
    policy = make_policy(organization=org)
    rule = sla_services.create_rule(actor=None, policy=policy, organization=org)
    window = maintenance_services.create_window(
        org,
        actor=None,
        name="Patch night",
        starts_at=now(),
        duration=timedelta(hours=1),
        assets=[web],
    )
    monitor = Monitor.objects.create(organization=org, name="Backups", kind="heartbeat")
    [attachment] = attachment_services.attach(
        ticket, [SimpleUploadedFile("notes.txt", b"private")], actor=None
    )
    macro = macro_services.create_macro(
        actor=None, organization=org, name="Thanks", body="Thank you"
    )
    view = saved_views.save_view(
        UserFactory.create(role=Role.AGENT), name="Mine", query={"org": str(org.pk)}
    )
    return {
        # A ticket page's ``pk`` names a ticket, not an asset.
        "desk:pk": lambda: ticket.pk,
        "portal:pk": lambda: ticket.pk,
        "slug": lambda: org.slug,
        "pk": lambda: web.pk,
        "site_id": lambda: site.pk,
        "contact_id": lambda: contact.pk,
        "relation_id": lambda: relation.pk,
        "calendar_id": lambda: policy.calendar_id,
        "policy_id": lambda: policy.pk,
        "rule_id": lambda: rule.pk,
        "window_id": lambda: window.pk,
        "monitor_id": lambda: monitor.pk,
        # Someone else's saved view (not shared): nobody else finds it.
        "view_id": lambda: view.pk,
        "macro_id": lambda: macro.pk,
        "attachment_id": lambda: attachment.pk,
    }


@pytest.fixture(params=["org_admin", "limited_agent"])
def outsider(request: pytest.FixtureRequest, other_org: Organization) -> User:
    if request.param == "org_admin":
        return UserFactory.create(role=Role.ORG_ADMIN, organization=other_org)
    agent = UserFactory.create(role=Role.AGENT)
    agent.limited_to.add(other_org)
    return agent


def test_the_walk_covers_the_object_pages():
    names = {name for name, _ in ui_patterns_with_parameters()}

    assert {
        "tenancy:org_detail",
        "tenancy:site_edit",
        "assets:detail",
        "assets:relation_delete",
        "desk:detail",
        "desk:reply",
        "desk:transition",
        "portal:detail",
        "sla:calendar_edit",
        "sla:policy_delete",
        "sla:rule_up",
        "maintenance:detail",
        "maintenance:delete",
        "maintenance:feed",
        "monitoring:detail",
        "monitoring:edit",
        "monitoring:delete",
        "monitoring:pause",
    } <= names


def test_every_object_page_is_not_found_for_another_organisation(
    client: Client, outsider: User, objects_of: dict[str, Callable[[], Any]]
):
    client.force_login(outsider)
    answers = {}
    for name, params in ui_patterns_with_parameters():
        namespace = name.partition(":")[0]
        fills = {p: objects_of.get(f"{namespace}:{p}", objects_of.get(p)) for p in params}
        unknown = [p for p, fill in fills.items() if fill is None]
        if unknown:
            pytest.fail(f"{name} has parameters {unknown} this test does not know how to fill")
        url = reverse(name, kwargs={p: fill() for p, fill in fills.items() if fill is not None})
        answers[f"GET {url}"] = client.get(url).status_code
        answers[f"POST {url}"] = client.post(
            url, {"name": "x", "target": "db01", "body": "x", "status": "open"}
        ).status_code

    assert answers
    assert {request: code for request, code in answers.items() if code != 404} == {}
