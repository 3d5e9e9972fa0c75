"""The header's navigation, account menu and organisation switcher.

Everything here is computed lazily: a fragment rendered for HTMX never touches it, so it
costs no queries there.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from django.urls import NoReverseMatch, reverse
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from buttress.accounts.models import Role, User
from buttress.desk.access import is_staff as is_desk_staff
from buttress.tenancy.access import Capability, can
from buttress.web.orgfilter import selected_organization, visible_organizations

if TYPE_CHECKING:
    from django.http import HttpRequest

    from buttress.tenancy.models import Organization


@dataclass(frozen=True)
class Link:
    label: str
    url: str
    active: bool = False


def _url(name: str) -> str | None:
    # Areas are built by different parts of the product; a link appears once its view exists.
    try:
        return reverse(name)
    except NoReverseMatch:
        return None


class Navigation:
    def __init__(self, request: HttpRequest) -> None:
        self.request = request
        user = getattr(request, "user", None)
        self.user: User | None = user if isinstance(user, User) else None

    @property
    def signed_in(self) -> bool:
        return self.user is not None and self.user.is_authenticated

    def _links(self, candidates: list[tuple[str, str, bool]]) -> list[Link]:
        path = self.request.path
        links = []
        for label, name, allowed in candidates:
            if not allowed:
                continue
            url = _url(name)
            if url is None:
                continue
            active = path == url if url == "/" else path.startswith(url)
            links.append(Link(label, url, active))
        return links

    @cached_property
    def items(self) -> list[Link]:
        if not self.signed_in:
            return []
        user = self.user
        assert user is not None
        staff = user.is_provider_staff
        customer_admin = user.role == Role.ORG_ADMIN
        return self._links(
            [
                ("Home", "web:home", True),
                (
                    "Organisations" if staff else "Organisation",
                    "tenancy:org_list",
                    staff or customer_admin,
                ),
                ("Tickets", "desk:list", is_desk_staff(user)),
                ("My requests", "portal:list", not is_desk_staff(user)),
                ("Service catalogue", "catalogue:list", staff),
                ("SLA", "sla:index", staff),
                ("Assets", "assets:list", can(user, Capability.VIEW_CMDB)),
                ("Monitors", "monitoring:list", can(user, Capability.VIEW_CMDB)),
                ("Maintenance", "maintenance:list", staff),
                ("Escalation", "escalation:policy_list", staff),
                ("On call", "oncall:list", staff),
                ("Alerts", "alerting:list", staff or customer_admin),
                ("Audit log", "audit:list", can(user, Capability.VIEW_AUDIT)),
                ("Users", "accounts:users", can(user, Capability.MANAGE_USERS)),
                ("Teams", "accounts:teams", staff and can(user, Capability.MANAGE_USERS)),
            ]
        )

    @cached_property
    def account(self) -> list[Link]:
        if not self.signed_in:
            return []
        return self._links(
            [
                ("Profile", "accounts:profile", True),
                ("Two-factor authentication", "accounts:security", True),
                ("Sessions", "accounts:sessions", True),
                ("API tokens", "accounts:tokens", True),
                ("Notifications", "notify:settings", True),
            ]
        )

    @cached_property
    def logout_url(self) -> str | None:
        return _url("accounts:logout") if self.signed_in else None

    @cached_property
    def login_url(self) -> str | None:
        return None if self.signed_in else _url("accounts:login")

    @cached_property
    def switcher_url(self) -> str | None:
        return _url("web:org_filter")

    @cached_property
    def show_switcher(self) -> bool:
        return bool(
            self.signed_in
            and self.user is not None
            and self.user.is_provider_staff
            and self.switcher_url
            and len(self.organizations) > 1
        )

    @cached_property
    def organizations(self) -> list[Organization]:
        if not self.signed_in or self.user is None or not self.user.is_provider_staff:
            return []
        return visible_organizations(self.request, self.user)

    @cached_property
    def switcher_options(self) -> SafeString:
        """The switcher's ``<option>`` per organisation, written here rather than by a loop in
        the template: a provider desk has dozens of organisations on every page."""
        chosen = self.selected.pk if self.selected is not None else None
        return mark_safe(  # noqa: S308 - the name is escaped
            "".join(
                f'<option value="{org.pk}"{" selected" if org.pk == chosen else ""}>'
                f"{escape(org.name)}</option>"
                for org in self.organizations
            )
        )

    @cached_property
    def selected(self) -> Organization | None:
        return selected_organization(self.request)


def navigation(request: HttpRequest) -> dict[str, Any]:
    return {"nav": Navigation(request)}
