"""Organisations, their sites and their contacts.

Every object is fetched through access.py (another organisation's object is a 404) before
any role check (a 403), and every change goes through services.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from buttress.accounts.models import Role
from buttress.lib.pagination import InvalidCursor, paginate
from buttress.tenancy import services
from buttress.tenancy.access import (
    Capability,
    can,
    get_contact_for,
    get_organization_by_slug_for,
    get_site_for,
    has_unrestricted_scope,
    organizations_for,
    require,
)
from buttress.tenancy.forms import ContactForm, OrganizationForm, SiteForm
from buttress.tenancy.models import Contact, Organization, Site
from buttress.web.counts import with_counts
from buttress.web.forms import add_service_errors
from buttress.web.htmx import is_htmx, vary_on_htmx
from buttress.web.users import current_user

if TYPE_CHECKING:
    from buttress.accounts.models import User

PAGE_SIZE = 50
# An organisation page is an overview; a customer with more sites or contacts than this is
# shown the first ones and the total.
DETAIL_LIMIT = 200


def _require_area(user: User) -> None:
    # End users have no use for the directory; they only see their home page.
    if user.role == Role.END_USER:
        raise PermissionDenied("Your role may not view organisations.")


def _can_edit_org(user: User) -> bool:
    return user.role == Role.ADMIN


def _org_for(request: HttpRequest, slug: str) -> Organization:
    org = get_organization_by_slug_for(current_user(request), slug)
    _require_area(current_user(request))
    return org


@login_required
def org_list(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    require(user, Capability.VIEW_ORG)
    _require_area(user)
    orgs = with_counts(organizations_for(user))
    # NUL cannot be in a name, and PostgreSQL refuses it even in a LIKE pattern.
    text = request.GET.get("q", "").replace("\x00", "").strip()[:200]
    if text:
        orgs = orgs.filter(Q(name__icontains=text) | Q(slug__icontains=text))
    cursor = request.GET.get("cursor") or None
    try:
        page = paginate(orgs, order=("name", "id"), cursor=cursor, limit=PAGE_SIZE)
    except InvalidCursor:
        messages.warning(request, "That page link is no longer valid; showing the first page.")
        page = paginate(orgs, order=("name", "id"), limit=PAGE_SIZE)
    query = request.GET.copy()
    context = {
        "page": page,
        "q": text,
        "query": query,
        "can_create": has_unrestricted_scope(user),
        "show_assets": can(user, Capability.VIEW_CMDB),
    }
    template = "tenancy/org_list.html#results" if is_htmx(request) else "tenancy/org_list.html"
    return vary_on_htmx(render(request, template, context))


@login_required
def org_create(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    if not has_unrestricted_scope(user):
        raise PermissionDenied("Only an administrator who sees every organisation may add one.")
    form = OrganizationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            org = services.create_organization(actor=user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Organisation {org.name} added.")
            return redirect("tenancy:org_detail", slug=org.slug)
    return render(request, "tenancy/org_form.html", {"form": form, "org": None})


@login_required
def org_detail(request: HttpRequest, slug: str) -> HttpResponse:
    user = current_user(request)
    org = _org_for(request, slug)
    counted = with_counts(Organization.objects.filter(pk=org.pk)).get()
    sites = Site.objects.for_org(org).annotate(asset_count=Count("assets"))[:DETAIL_LIMIT]
    contacts = Contact.objects.for_org(org).select_related("site")[:DETAIL_LIMIT]
    context = {
        "org": org,
        "counts": counted,
        "sites": sites,
        "contacts": contacts,
        "limit": DETAIL_LIMIT,
        "show_assets": can(user, Capability.VIEW_CMDB),
        "show_history": can(user, Capability.VIEW_AUDIT),
        "can_manage": can(user, Capability.MANAGE_ORG),
        "can_edit": _can_edit_org(user),
        "can_delete": has_unrestricted_scope(user),
    }
    return render(request, "tenancy/org_detail.html", context)


@login_required
def org_edit(request: HttpRequest, slug: str) -> HttpResponse:
    user = current_user(request)
    org = _org_for(request, slug)
    if not _can_edit_org(user):
        raise PermissionDenied("Only an administrator may change an organisation.")
    form = OrganizationForm(request.POST or None, initial=OrganizationForm.initial_for(org))
    if request.method == "POST" and form.is_valid():
        changes = dict(form.cleaned_data)
        if not changes["slug"]:
            changes.pop("slug")
        try:
            services.update_organization(org, actor=user, **changes)
        except ValidationError as exc:
            org.refresh_from_db()
            add_service_errors(form, exc)
        else:
            messages.success(request, "Organisation saved.")
            return redirect("tenancy:org_detail", slug=org.slug)
    return render(request, "tenancy/org_form.html", {"form": form, "org": org})


@login_required
def org_delete(request: HttpRequest, slug: str) -> HttpResponse:
    user = current_user(request)
    org = _org_for(request, slug)
    if not has_unrestricted_scope(user):
        raise PermissionDenied("Only an administrator who sees every organisation may delete one.")
    if request.method == "POST":
        name = org.name
        services.delete_organization(org, actor=user)
        messages.success(request, f"Organisation {name} deleted.")
        return redirect("tenancy:org_list")
    return _confirm(
        request,
        title=f"Delete {org.name}?",
        warning=(
            "Its sites, contacts, assets and customer accounts are deleted with it. "
            "This cannot be undone."
        ),
        cancel=org,
        org=org,
    )


def _confirm(
    request: HttpRequest, *, title: str, warning: str, cancel: Organization, org: Organization
) -> HttpResponse:
    return render(
        request,
        "web/confirm_delete.html",
        {"title": title, "warning": warning, "cancel_url": _detail_url(cancel), "org": org},
    )


def _detail_url(org: Organization) -> str:
    return reverse("tenancy:org_detail", kwargs={"slug": org.slug})


# Sites ---------------------------------------------------------------------------------------


def _site_in(request: HttpRequest, org: Organization, site_id: int) -> Site:
    site = get_site_for(current_user(request), site_id)
    if site.organization_id != org.pk:
        raise Http404("Site not found.")
    require(current_user(request), Capability.MANAGE_ORG)
    return site


@login_required
def site_create(request: HttpRequest, slug: str) -> HttpResponse:
    org = _org_for(request, slug)
    require(current_user(request), Capability.MANAGE_ORG)
    form = SiteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            site = services.create_site(org, actor=current_user(request), **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Site {site.name} added.")
            return redirect("tenancy:org_detail", slug=org.slug)
    return render(request, "tenancy/site_form.html", {"form": form, "org": org, "site": None})


@login_required
def site_edit(request: HttpRequest, slug: str, site_id: int) -> HttpResponse:
    org = _org_for(request, slug)
    site = _site_in(request, org, site_id)
    form = SiteForm(request.POST or None, initial=SiteForm.initial_for(site))
    if request.method == "POST" and form.is_valid():
        try:
            services.update_site(site, actor=current_user(request), **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, "Site saved.")
            return redirect("tenancy:org_detail", slug=org.slug)
    return render(request, "tenancy/site_form.html", {"form": form, "org": org, "site": site})


@login_required
def site_delete(request: HttpRequest, slug: str, site_id: int) -> HttpResponse:
    org = _org_for(request, slug)
    site = _site_in(request, org, site_id)
    if request.method == "POST":
        services.delete_site(site, actor=current_user(request))
        messages.success(request, f"Site {site.name} deleted.")
        return redirect("tenancy:org_detail", slug=org.slug)
    return _confirm(
        request,
        title=f"Delete site {site.name}?",
        warning="Its assets and contacts stay in the organisation without a site.",
        cancel=org,
        org=org,
    )


# Contacts ------------------------------------------------------------------------------------


def _contact_in(request: HttpRequest, org: Organization, contact_id: int) -> Contact:
    contact = get_contact_for(current_user(request), contact_id)
    if contact.organization_id != org.pk:
        raise Http404("Contact not found.")
    require(current_user(request), Capability.MANAGE_ORG)
    return contact


def _contact_initial(contact: Contact) -> dict[str, Any]:
    return {
        "name": contact.name,
        "email": contact.email,
        "phone": contact.phone,
        "job_title": contact.job_title,
        "site": contact.site_id,
        "is_active": contact.is_active,
    }


@login_required
def contact_create(request: HttpRequest, slug: str) -> HttpResponse:
    org = _org_for(request, slug)
    require(current_user(request), Capability.MANAGE_ORG)
    form = ContactForm(request.POST or None, organization=org)
    if request.method == "POST" and form.is_valid():
        try:
            contact = services.create_contact(org, actor=current_user(request), **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Contact {contact.name} added.")
            return redirect("tenancy:org_detail", slug=org.slug)
    context = {"form": form, "org": org, "contact": None}
    return render(request, "tenancy/contact_form.html", context)


@login_required
def contact_edit(request: HttpRequest, slug: str, contact_id: int) -> HttpResponse:
    org = _org_for(request, slug)
    contact = _contact_in(request, org, contact_id)
    form = ContactForm(request.POST or None, organization=org, initial=_contact_initial(contact))
    if request.method == "POST" and form.is_valid():
        try:
            services.update_contact(contact, actor=current_user(request), **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, "Contact saved.")
            return redirect("tenancy:org_detail", slug=org.slug)
    context = {"form": form, "org": org, "contact": contact}
    return render(request, "tenancy/contact_form.html", context)


@login_required
def contact_delete(request: HttpRequest, slug: str, contact_id: int) -> HttpResponse:
    org = _org_for(request, slug)
    contact = _contact_in(request, org, contact_id)
    if request.method == "POST":
        services.delete_contact(contact, actor=current_user(request))
        messages.success(request, f"Contact {contact.name} deleted.")
        return redirect("tenancy:org_detail", slug=org.slug)
    return _confirm(
        request,
        title=f"Delete contact {contact.name}?",
        warning="Any user account linked to this contact stays, without the link.",
        cancel=org,
        org=org,
    )
