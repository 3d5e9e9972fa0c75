"""Per-organisation counts for dashboards and lists."""

from __future__ import annotations

from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce

from buttress.assets.models import Asset
from buttress.tenancy.models import Contact, Organization, Site


def _count_of(model: type[Asset | Site | Contact]) -> Coalesce:
    # A correlated subquery per column: joining several tables at once would multiply rows,
    # and each subquery is answered from the organisation index of its table.
    rows = (
        model.objects.filter(organization=OuterRef("pk"))
        .order_by()
        .values("organization")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(rows, output_field=IntegerField()), 0)


def with_counts(orgs: QuerySet[Organization]) -> QuerySet[Organization]:
    return orgs.annotate(
        asset_count=_count_of(Asset),
        site_count=_count_of(Site),
        contact_count=_count_of(Contact),
    )
