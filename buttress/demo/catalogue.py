"""What the demo installation contains: a small provider and four customers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# For local evaluation only: printed by `buttress run --demo`, never meant for production.
DEMO_PASSWORD = "buttress-demo-only"  # noqa: S105


@dataclass(frozen=True)
class Login:
    email: str
    role: str
    full_name: str
    org_slug: str | None = None


LOGINS = (
    Login("admin@provider.example", "admin", "Demo provider admin"),
    Login("agent@provider.example", "agent", "Demo agent"),
    Login("viewer@provider.example", "viewer", "Demo read-only viewer"),
    Login("it@northwind.example", "org_admin", "Northwind IT administrator", "northwind"),
    Login("staff@northwind.example", "end_user", "Northwind staff member", "northwind"),
)

# name -> (description, member emails)
TEAMS = {
    "Service Desk": ("First line: tickets, laptops and printers.", ("agent@provider.example",)),
    "Infrastructure": (
        "Servers, virtualisation, storage and backups.",
        ("admin@provider.example", "agent@provider.example"),
    ),
    "Network Operations": ("Firewalls, switches and WAN links.", ("admin@provider.example",)),
}


@dataclass(frozen=True)
class Customer:
    name: str
    slug: str
    domain: str
    prefix: str  # host-name prefix, so every customer's CMDB reads differently
    sites: tuple[tuple[str, str, str], ...]  # (name, address, IANA zone)
    contacts: tuple[tuple[str, str, str], ...]  # (name, local part of the email, job title)
    app: str  # the line-of-business application
    service: str  # the business service it supports
    extra_tags: tuple[str, ...] = field(default=())


CUSTOMERS = (
    Customer(
        name="Northwind Traders",
        slug="northwind",
        domain="northwind.example",
        prefix="nw",
        sites=(
            ("London HQ", "1 Example Street, London", "Europe/London"),
            ("Leeds warehouse", "Unit 4, Example Park, Leeds", "Europe/London"),
        ),
        contacts=(
            ("IT administrator", "it", "IT lead"),
            ("Office manager", "office", "Office manager"),
            ("Warehouse supervisor", "warehouse", "Warehouse supervisor"),
        ),
        app="Order management",
        service="Order fulfilment",
        extra_tags=("pci",),
    ),
    Customer(
        name="Contoso Dental",
        slug="contoso",
        domain="contoso.example",
        prefix="cd",
        sites=(("Main surgery", "22 Example Road, Bristol", "Europe/London"),),
        contacts=(
            ("Practice manager", "practice", "Practice manager"),
            ("Reception desk", "reception", "Receptionist"),
        ),
        app="Patient records",
        service="Patient appointments",
        extra_tags=("gdpr",),
    ),
    Customer(
        name="Fabrikam Logistics",
        slug="fabrikam",
        domain="fabrikam.example",
        prefix="fl",
        sites=(
            ("Hamburg depot", "Beispielstraße 5, Hamburg", "Europe/Berlin"),
            ("Rotterdam depot", "Voorbeeldweg 9, Rotterdam", "Europe/Amsterdam"),
            ("Head office", "Example Avenue 1, Frankfurt", "Europe/Berlin"),
        ),
        contacts=(
            ("Head of IT", "it", "Head of IT"),
            ("Depot lead Hamburg", "hamburg", "Depot lead"),
        ),
        app="Fleet tracking",
        service="Parcel tracking",
    ),
    Customer(
        name="Tailspin Studios",
        slug="tailspin",
        domain="tailspin.example",
        prefix="ts",
        sites=(("Studio", "100 Example Boulevard, New York", "America/New_York"),),
        contacts=(("Studio manager", "studio", "Studio manager"),),
        app="Render farm scheduler",
        service="Video production",
        extra_tags=("media",),
    ),
)


@dataclass(frozen=True)
class Item:
    key: str  # how relations refer to it
    name: str
    kind: str
    criticality: str = "medium"
    team: str | None = None
    tags: tuple[str, ...] = ()
    attributes: dict[str, Any] = field(default_factory=dict)
    site: int = 0  # index into the customer's sites
    description: str = ""


def inventory(customer: Customer) -> tuple[list[Item], list[tuple[str, str, str]]]:
    """The configuration items of one customer and their relations (source, kind, target)."""
    p = customer.prefix
    net = customer.slug + ".lan"
    last_site = len(customer.sites) - 1
    items = [
        Item(
            "fw",
            f"{p}-fw01",
            "firewall",
            "critical",
            "Network Operations",
            ("network",),
            {"vendor": "OPNsense", "ip": "10.0.0.1", "firmware": "24.7"},
        ),
        Item(
            "router",
            f"{p}-wan01",
            "network_device",
            "high",
            "Network Operations",
            ("network", "wan"),
            {"vendor": "MikroTik", "model": "CCR2004", "ip": "10.0.0.2"},
        ),
        Item(
            "switch",
            f"{p}-core-sw01",
            "network_device",
            "high",
            "Network Operations",
            ("network",),
            {"vendor": "Aruba", "model": "CX 6300", "ip": "10.0.0.3"},
        ),
        Item(
            "san",
            f"{p}-san01",
            "storage",
            "critical",
            "Infrastructure",
            ("production",),
            {"vendor": "TrueNAS", "capacity_tb": 48, "raid": "RAIDZ2"},
        ),
        Item(
            "hv1",
            f"{p}-hv01",
            "server",
            "critical",
            "Infrastructure",
            ("production", "hypervisor"),
            {"os": "Proxmox VE 8.2", "cpu_cores": 32, "ram_gb": 256, "serial": f"{p.upper()}HV1"},
        ),
        Item(
            "hv2",
            f"{p}-hv02",
            "server",
            "critical",
            "Infrastructure",
            ("production", "hypervisor"),
            {"os": "Proxmox VE 8.2", "cpu_cores": 32, "ram_gb": 256, "serial": f"{p.upper()}HV2"},
        ),
        Item(
            "dc",
            f"{p}-dc01",
            "virtual_machine",
            "high",
            "Infrastructure",
            ("production", "windows"),
            {"os": "Windows Server 2022", "fqdn": f"dc01.{net}"},
        ),
        Item(
            "app",
            f"{p}-app01",
            "virtual_machine",
            "high",
            "Infrastructure",
            ("production", "linux"),
            {"os": "Debian 12", "fqdn": f"app01.{net}", "ram_gb": 16},
        ),
        Item(
            "web",
            f"{p}-web01",
            "virtual_machine",
            "high",
            "Infrastructure",
            ("production", "linux"),
            {"os": "Debian 12", "fqdn": f"web01.{net}", "ram_gb": 8},
        ),
        Item(
            "dbvm",
            f"{p}-db01",
            "virtual_machine",
            "critical",
            "Infrastructure",
            ("production", "linux"),
            {"os": "Debian 12", "fqdn": f"db01.{net}", "ram_gb": 64},
        ),
        Item(
            "backup",
            f"{p}-backup01",
            "virtual_machine",
            "medium",
            "Infrastructure",
            ("backup", "linux"),
            {"os": "Debian 12", "software": "Proxmox Backup Server"},
        ),
        Item(
            "db",
            f"{customer.app} database",
            "database",
            "critical",
            "Infrastructure",
            ("production",),
            {"engine": "PostgreSQL", "version": "16.4", "port": 5432},
        ),
        Item(
            "directory",
            "Active Directory",
            "application",
            "high",
            "Infrastructure",
            ("identity",),
            {"domain": net},
        ),
        Item(
            "lob",
            customer.app,
            "application",
            "critical",
            "Infrastructure",
            ("production", *customer.extra_tags),
            {"version": "4.2.1", "vendor": "In-house"},
            description=f"The application {customer.name} runs its business on.",
        ),
        Item(
            "site",
            f"www.{customer.domain}",
            "website",
            "high",
            "Infrastructure",
            ("public",),
            {"url": f"https://www.{customer.domain}/", "tls_expires": "2027-03-01"},
        ),
        Item(
            "service",
            customer.service,
            "service",
            "critical",
            None,
            ("business-service", *customer.extra_tags),
            {"hours": "Mon-Fri 07:00-19:00", "rto_hours": 4},
            description=f"What {customer.name}'s customers notice when something breaks.",
        ),
        Item(
            "printer",
            f"{p}-prn01",
            "printer",
            "low",
            "Service Desk",
            (),
            {"model": "HP LaserJet M507"},
            site=last_site,
        ),
        Item(
            "laptop1",
            f"{p}-lt001",
            "laptop",
            "low",
            "Service Desk",
            ("windows",),
            {"model": "ThinkPad T14", "os": "Windows 11"},
        ),
        Item(
            "laptop2",
            f"{p}-lt002",
            "laptop",
            "low",
            "Service Desk",
            ("windows",),
            {"model": "ThinkPad T14", "os": "Windows 11"},
            site=last_site,
        ),
        Item(
            "m365",
            "Microsoft 365 tenant",
            "cloud_resource",
            "high",
            "Service Desk",
            ("cloud",),
            {"tenant": f"{customer.slug}.onmicrosoft.example", "licences": 40},
        ),
    ]
    relations = [
        ("hv1", "depends_on", "san"),
        ("hv2", "depends_on", "san"),
        ("hv1", "connects_to", "switch"),
        ("hv2", "connects_to", "switch"),
        ("san", "connects_to", "switch"),
        ("switch", "connects_to", "fw"),
        ("fw", "connects_to", "router"),
        ("dc", "runs_on", "hv1"),
        ("app", "runs_on", "hv1"),
        ("backup", "runs_on", "hv1"),
        ("web", "runs_on", "hv2"),
        ("dbvm", "runs_on", "hv2"),
        ("directory", "runs_on", "dc"),
        ("db", "runs_on", "dbvm"),
        ("lob", "runs_on", "app"),
        ("lob", "depends_on", "db"),
        ("lob", "depends_on", "directory"),
        ("site", "runs_on", "web"),
        ("site", "depends_on", "lob"),
        ("service", "depends_on", "lob"),
        ("service", "depends_on", "site"),
        ("service", "depends_on", "m365"),
        ("laptop1", "depends_on", "directory"),
        ("laptop2", "depends_on", "directory"),
        ("printer", "connects_to", "switch"),
    ]
    return items, relations
