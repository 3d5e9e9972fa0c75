"""Bench data: organisations, sites, teams, tags, assets and relations, written in bulk.

The rows are deterministic (a seeded RNG), so two runs with the same size measure the same
data. Seeding bypasses the services on purpose: 100,000 audited one-by-one creations would
take far longer than the benchmark itself, and the audit log is not what is being measured.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

from django.db import connection, transaction

from buttress.accounts.models import Team
from buttress.assets.models import (
    Asset,
    AssetRelation,
    Criticality,
    Kind,
    Lifecycle,
    RelationKind,
    Tag,
)
from buttress.tenancy.models import Organization, Site

ORG_SLUG_PREFIX = "bench-"
SITES_PER_ORG = 3
TEAMS = ("Service desk", "Infrastructure", "Networks", "Cloud", "Security", "Field engineers")
TAG_NAMES = (
    "production",
    "staging",
    "backup",
    "pci",
    "linux",
    "windows",
    "dmz",
    "legacy",
    "monitored",
    "patched",
    "customer-facing",
    "internal",
)
NAME_STEMS = ("web", "db", "app", "fw", "sw", "nas", "lap", "ws", "vm", "prn", "ap", "hv")
OPERATING_SYSTEMS = ("Debian 12", "Ubuntu 24.04", "Windows Server 2022", "Windows 11", "RHEL 9")
BATCH = 5_000


@dataclass(frozen=True)
class SeedSummary:
    organizations: int
    sites: int
    tags: int
    assets: int
    asset_tags: int
    relations: int
    seconds: float


def is_seeded(*, assets: int, orgs: int) -> bool:
    bench_orgs = Organization.objects.filter(slug__startswith=ORG_SLUG_PREFIX)
    return (
        bench_orgs.count() == orgs
        and Organization.objects.count() == orgs
        and Asset.objects.count() == assets
    )


def _organizations(count: int) -> list[Organization]:
    orgs = [
        Organization(
            name=f"Bench Customer {n:03d}",
            slug=f"{ORG_SLUG_PREFIX}{n:03d}",
            email_domains=[f"customer{n:03d}.example"],
        )
        for n in range(1, count + 1)
    ]
    return Organization.objects.bulk_create(orgs)


def _asset_rows(
    rng: random.Random,
    count: int,
    orgs: list[Organization],
    sites: dict[int, list[Site]],
    teams: list[Team],
) -> list[Asset]:
    kinds = list(Kind.values)
    criticalities = list(Criticality.values)
    # Mostly active, as in a real estate: the list is not dominated by retired kit.
    statuses = [Lifecycle.ACTIVE] * 8 + [Lifecycle.MAINTENANCE, Lifecycle.RETIRED]
    rows = []
    for i in range(count):
        org = orgs[i % len(orgs)]
        stem = NAME_STEMS[rng.randrange(len(NAME_STEMS))]
        rows.append(
            Asset(
                organization=org,
                site=None if rng.random() < 0.1 else rng.choice(sites[org.pk]),
                owner_team=None if rng.random() < 0.2 else rng.choice(teams),
                # The number makes the name unique; the stem spreads the names so that one
                # organisation's assets interleave with others' in the global name order.
                name=f"{stem}-{i:06d}",
                kind=rng.choice(kinds),
                criticality=rng.choice(criticalities),
                status=rng.choice(statuses),
                description=f"{stem} #{i} in {org.name}",
                attributes={
                    "serial": f"SN{rng.randrange(10**9):09d}",
                    "os": rng.choice(OPERATING_SYSTEMS),
                    "ram_gb": rng.choice((4, 8, 16, 32, 64)),
                },
            )
        )
    return rows


def seed(*, assets: int, orgs: int, rng_seed: int = 2) -> SeedSummary:
    """Fill an empty database with ``assets`` assets spread evenly over ``orgs`` organisations."""
    started = time.perf_counter()
    rng = random.Random(rng_seed)
    with transaction.atomic():
        organizations = _organizations(orgs)
        sites: dict[int, list[Site]] = {}
        site_rows = [
            Site(organization=org, name=f"Site {s}", address=f"{s} High Street", timezone="UTC")
            for org in organizations
            for s in range(1, SITES_PER_ORG + 1)
        ]
        for site in Site.objects.bulk_create(site_rows):
            sites.setdefault(site.organization_id, []).append(site)
        teams = [Team.objects.get_or_create(name=name)[0] for name in TEAMS]
        tag_rows = [Tag(organization=org, name=name) for org in organizations for name in TAG_NAMES]
        tags: dict[int, list[Tag]] = {}
        for tag in Tag.objects.bulk_create(tag_rows):
            tags.setdefault(tag.organization_id, []).append(tag)

        asset_rows = _asset_rows(rng, assets, organizations, sites, teams)
        created = Asset.objects.bulk_create(asset_rows, batch_size=BATCH)

        through = Asset.tags.through
        links = []
        for asset in created:
            for tag in rng.sample(tags[asset.organization_id], rng.randrange(4)):
                links.append(through(asset_id=asset.pk, tag_id=tag.pk))
        through.objects.bulk_create(links, batch_size=BATCH)

        relations = _relations(rng, created)
        AssetRelation.objects.bulk_create(relations, batch_size=BATCH)
    # Fresh statistics, or the planner guesses about tables it has never looked at.
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return SeedSummary(
        organizations=len(organizations),
        sites=len(site_rows),
        tags=len(tag_rows),
        assets=len(created),
        asset_tags=len(links),
        relations=len(relations),
        seconds=time.perf_counter() - started,
    )


def _relations(rng: random.Random, assets: list[Asset]) -> list[AssetRelation]:
    """About one relation for every four assets, always inside one organisation."""
    by_org: dict[int, list[Asset]] = {}
    for asset in assets:
        by_org.setdefault(asset.organization_id, []).append(asset)
    kinds = list(RelationKind.values)
    rows = []
    for org_id, members in by_org.items():
        if len(members) < 2:
            continue
        seen: set[tuple[int, int, str]] = set()
        for _ in range(len(members) // 4):
            source, target = rng.sample(members, 2)
            kind = rng.choice(kinds)
            key = (source.pk, target.pk, kind)
            if key in seen:
                continue
            seen.add(key)
            rows.append(
                AssetRelation(organization_id=org_id, source=source, target=target, kind=kind)
            )
    return rows
