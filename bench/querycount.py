"""Queries per list request must not grow with the number of rows on the page (no N+1)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from buttress.accounts.models import Team, User
from buttress.assets.models import Asset, AssetRelation, RelationKind, Tag
from buttress.tenancy.models import Organization, Site

API_LIST = "/api/v1/assets"


@dataclass(frozen=True)
class Count:
    label: str
    path: str
    rows: int | None
    queries: int
    status: int


@dataclass(frozen=True)
class Comparison:
    title: str
    counts: list[Count]

    @property
    def constant(self) -> bool:
        return (
            all(c.status == 200 for c in self.counts) and len({c.queries for c in self.counts}) == 1
        )


def _count(client: Client, label: str, path: str) -> Count:
    # The first request may write a token's or a session's last use; measure the second.
    client.get(path)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    rows = None
    if response.status_code == 200 and response.get("Content-Type", "").startswith(
        "application/json"
    ):
        rows = len(response.json().get("items", []))
    return Count(
        label=label, path=path, rows=rows, queries=len(captured), status=response.status_code
    )


def _second_page(api: Client) -> str:
    first = api.get(f"{API_LIST}?limit=50")
    cursor = first.json().get("next_cursor") if first.status_code == 200 else None
    return f"{API_LIST}?{urlencode({'limit': 50, 'cursor': cursor or ''})}"


def _small_org() -> Organization:
    """An organisation of three fully related assets, for comparison with a full page."""
    org = Organization.objects.create(name="Bench Small Org", slug="bench-small-org")
    site = Site.objects.create(organization=org, name="Only site")
    team = Team.objects.order_by("pk").first()
    tags = Tag.objects.bulk_create(
        [Tag(organization=org, name="production"), Tag(organization=org, name="linux")]
    )
    assets = [
        Asset.objects.create(
            organization=org, site=site, owner_team=team, name=f"small-{n}", attributes={"n": n}
        )
        for n in range(3)
    ]
    for asset in assets:
        asset.tags.set(tags)
    AssetRelation.objects.create(
        organization=org, source=assets[1], target=assets[0], kind=RelationKind.DEPENDS_ON
    )
    return org


def compare(
    *, user: User, token: str, big_org: Organization, ui_list: str, ui_org_param: str
) -> list[Comparison]:
    """Count the queries of short and full pages of the same request.

    Requests are compared only with requests of the same shape (a filter may add a lookup of
    its own); within a shape the count must not depend on the rows. The small organisation is
    created in a transaction that is rolled back.
    """
    api = Client(headers={"Authorization": f"Bearer {token}"})
    ui = Client()
    ui.force_login(user)
    with transaction.atomic():
        small = _small_org()
        comparisons = [
            Comparison(
                "API, all organisations (GET /api/v1/assets)",
                [
                    _count(api, "limit=5", f"{API_LIST}?limit=5"),
                    _count(api, "limit=50", f"{API_LIST}?limit=50"),
                    _count(api, "limit=50, second page by cursor", _second_page(api)),
                    _count(api, "name filter matching 3", f"{API_LIST}?q=small-&limit=50"),
                ],
            ),
            Comparison(
                "API, one organisation (GET /api/v1/assets?organization=)",
                [
                    _count(api, "organisation of 3 assets", f"{API_LIST}?organization={small.pk}"),
                    _count(
                        api, "organisation of many assets", f"{API_LIST}?organization={big_org.pk}"
                    ),
                ],
            ),
            Comparison(
                f"UI, all organisations (GET {ui_list})",
                [
                    _count(ui, "name filter matching 3", f"{ui_list}?q=small-"),
                    _count(ui, "first page", ui_list),
                ],
            ),
            Comparison(
                f"UI, one organisation (GET {ui_list}?{ui_org_param}=)",
                [
                    _count(ui, "organisation of 3 assets", f"{ui_list}?{ui_org_param}={small.pk}"),
                    _count(
                        ui, "organisation of many assets", f"{ui_list}?{ui_org_param}={big_org.pk}"
                    ),
                ],
            ),
        ]
        transaction.set_rollback(True)
    return comparisons
