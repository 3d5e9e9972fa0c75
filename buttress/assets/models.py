from __future__ import annotations

from django.db import models
from django.db.models.functions import Lower

from buttress.tenancy.models import OrgScopedQuerySet


class Kind(models.TextChoices):
    SERVER = "server", "Server"
    VIRTUAL_MACHINE = "virtual_machine", "Virtual machine"
    WORKSTATION = "workstation", "Workstation"
    LAPTOP = "laptop", "Laptop"
    MOBILE = "mobile", "Mobile device"
    NETWORK_DEVICE = "network_device", "Network device"
    FIREWALL = "firewall", "Firewall"
    STORAGE = "storage", "Storage"
    PRINTER = "printer", "Printer"
    APPLICATION = "application", "Application"
    DATABASE = "database", "Database"
    WEBSITE = "website", "Website"
    CLOUD_RESOURCE = "cloud_resource", "Cloud resource"
    SERVICE = "service", "Business service"
    LICENSE = "license", "Licence"
    OTHER = "other", "Other"


class Criticality(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"


class Lifecycle(models.TextChoices):
    PLANNED = "planned", "Planned"
    ORDERED = "ordered", "Ordered"
    IN_STOCK = "in_stock", "In stock"
    ACTIVE = "active", "Active"
    MAINTENANCE = "maintenance", "In maintenance"
    RETIRED = "retired", "Retired"
    DISPOSED = "disposed", "Disposed"


class RelationKind(models.TextChoices):
    DEPENDS_ON = "depends_on", "depends on"
    RUNS_ON = "runs_on", "runs on"
    CONNECTS_TO = "connects_to", "connects to"


# An asset is affected when something it depends on or runs on fails. "Connects to" records
# a network path; it is shown but does not carry impact, since a link is usually redundant.
IMPACT_KINDS = (RelationKind.DEPENDS_ON, RelationKind.RUNS_ON)


class TagQuerySet(OrgScopedQuerySet["Tag"]):
    pass


class Tag(models.Model):
    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="+"
    )
    name = models.CharField(max_length=64)

    objects = TagQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="tag_name_per_org_unique")
        ]

    def __str__(self) -> str:
        return self.name


class AssetQuerySet(OrgScopedQuerySet["Asset"]):
    def with_list_relations(self) -> AssetQuerySet:
        return self.select_related("organization", "site", "owner_team").prefetch_related("tags")


class Asset(models.Model):
    """A configuration item."""

    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="assets"
    )
    site = models.ForeignKey(
        "tenancy.Site", null=True, blank=True, on_delete=models.SET_NULL, related_name="assets"
    )
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=32, choices=Kind.choices, default=Kind.SERVER)
    criticality = models.CharField(
        max_length=16, choices=Criticality.choices, default=Criticality.MEDIUM
    )
    status = models.CharField(max_length=16, choices=Lifecycle.choices, default=Lifecycle.ACTIVE)
    owner_team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="assets"
    )
    description = models.TextField(blank=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="assets")
    attributes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = AssetQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                "organization", Lower("name"), name="asset_name_per_org_unique"
            ),
        ]
        indexes = [
            # Keyset pagination walks (name, id), filtered by organisation or not at all.
            models.Index(fields=["organization", "name", "id"], name="asset_org_name_idx"),
            models.Index(fields=["name", "id"], name="asset_name_idx"),
            models.Index(fields=["organization", "kind"], name="asset_org_kind_idx"),
            models.Index(fields=["organization", "status"], name="asset_org_status_idx"),
            models.Index(fields=["site"], name="asset_site_idx"),
        ]

    def __str__(self) -> str:
        return self.name


class AssetRelationQuerySet(OrgScopedQuerySet["AssetRelation"]):
    pass


class AssetRelation(models.Model):
    """``source`` <kind> ``target``: "web01 runs on hv03", "shop depends on db01"."""

    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="+"
    )
    source = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="outgoing")
    target = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="incoming")
    kind = models.CharField(max_length=16, choices=RelationKind.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = AssetRelationQuerySet.as_manager()

    class Meta:
        ordering = ["kind", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "target", "kind"], name="asset_relation_unique"
            ),
            models.CheckConstraint(
                condition=~models.Q(source=models.F("target")), name="asset_relation_not_self"
            ),
        ]
        indexes = [models.Index(fields=["target", "kind"], name="relation_target_idx")]

    def __str__(self) -> str:
        return f"{self.source} {self.get_kind_display()} {self.target}"
