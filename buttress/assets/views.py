"""Assets: the list, one asset with its relations and impact, changes, CSV in and out.

Objects are fetched through access.py (another organisation's asset is a 404) before any
role check (a 403); every change goes through services.py.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    QueryDict,
    StreamingHttpResponse,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from buttress.accounts.models import Team
from buttress.assets import services
from buttress.assets.access import assets_for, get_asset_for, get_relation_for
from buttress.assets.csvio import MAX_BYTES, export_assets, import_assets
from buttress.assets.forms import (
    AssetFilterForm,
    AssetForm,
    ImportConfirmForm,
    ImportForm,
    RelationForm,
    attributes_text,
)
from buttress.assets.models import Asset, AssetQuerySet, Criticality, Kind, Lifecycle
from buttress.audit.models import AuditEntry
from buttress.lib.pagination import InvalidCursor, paginate
from buttress.tenancy.access import (
    Capability,
    can,
    get_organization_for,
    organizations_for,
    require,
)
from buttress.tenancy.models import Organization
from buttress.web.forms import add_service_errors
from buttress.web.htmx import is_htmx, vary_on_htmx
from buttress.web.orgfilter import selected_organization
from buttress.web.users import current_user

if TYPE_CHECKING:
    from buttress.accounts.models import User

PAGE_SIZE = 50
HISTORY_LIMIT = 50
IMPACT_LIMIT = 200
TARGET_SUGGESTIONS = 20
TARGET_SELECT_LIMIT = 300


def _single_organization(user: User) -> Organization | None:
    """The user's only organisation, when they see exactly one."""
    orgs = list(organizations_for(user).only("id", "name")[:2])
    return orgs[0] if len(orgs) == 1 else None


def _filters(request: HttpRequest) -> tuple[AssetFilterForm, AssetQuerySet, QueryDict]:
    """The filter form, the assets it selects, and the query string that reproduces it."""
    user = current_user(request)
    # One read of the organisations serves the single-organisation check, the filter's
    # choices and the validation of the chosen one.
    organizations = list(organizations_for(user).only("id", "name"))
    single = organizations[0] if len(organizations) == 1 else None
    data = request.GET.copy()
    data.pop("cursor", None)
    if single is not None:
        data["org"] = str(single.pk)
    elif "org" not in data and (default := selected_organization(request)) is not None:
        # The header's organisation is a default; an explicit "All organisations" wins.
        data["org"] = str(default.pk)
    form = AssetFilterForm(
        data,
        user=user,
        organizations=organizations,
        teams=list(Team.objects.only("id", "name")),
        single_org=single,
    )
    form.is_valid()
    # An invalid filter is reported on the form and left out; the valid ones still apply.
    cleaned = form.cleaned_data
    assets = assets_for(user)
    if org := cleaned.get("org"):
        assets = assets.for_org(org)
    if site := cleaned.get("site"):
        assets = assets.filter(site_id=site)
    for field in ("kind", "status", "criticality"):
        if value := cleaned.get(field):
            assets = assets.filter(**{field: value})
    if tag := cleaned.get("tag"):
        assets = assets.filter(tags__name=tag.strip().lower())
    if team := cleaned.get("team"):
        assets = assets.filter(owner_team_id=team)
    if text := cleaned.get("q"):
        assets = assets.filter(name__icontains=text.strip())
    return form, assets, data


def _order(form: AssetFilterForm) -> tuple[str, str]:
    return ("-name", "-id") if form.cleaned_data.get("sort") == "-name" else ("name", "id")


@dataclass(frozen=True, slots=True)
class AssetRow:
    """What a row of the list shows, as text ready for the template."""

    pk: int
    name: str
    url: str
    organization: str
    site: str | None
    kind: str
    status: str
    criticality: str
    criticality_label: str
    owner_team: str | None
    tags: list[str]


@dataclass(frozen=True, slots=True)
class RowPage:
    items: list[AssetRow]
    next_cursor: str | None
    prev_cursor: str | None


KIND_LABELS = dict(Kind.choices)
STATUS_LABELS = dict(Lifecycle.choices)
CRITICALITY_LABELS = dict(Criticality.choices)
ROW_COLUMNS = (
    "id",
    "name",
    "kind",
    "status",
    "criticality",
    "organization__name",
    "site__name",
    "owner_team__name",
)


def _page_of(assets: AssetQuerySet, *, order: tuple[str, str], cursor: str | None) -> RowPage:
    """One page of the list, in three queries whatever its size.

    The page's ids come from the (organisation, name, id) index alone; reading whole rows
    only for those ids keeps a page fast however many assets match. Rows are read as plain
    values with the names they show joined in, not as model instances: building objects and
    related managers for a page cost several times the queries themselves.
    """
    # (id, name) rows: the keyset needs only the ordering's columns, read by attribute.
    key_rows: QuerySet[Asset, Any] = assets.values_list("id", "name", named=True)
    keys = paginate(key_rows, order=order, cursor=cursor, limit=PAGE_SIZE)
    ids = [key.id for key in keys.items]
    rows: dict[int, tuple[Any, ...]] = {}
    tags: defaultdict[int, list[str]] = defaultdict(list)
    if ids:
        # The ids were selected through access.py above; these reads only fill them in.
        found = Asset.objects.filter(pk__in=ids).order_by().values_list(*ROW_COLUMNS)
        rows = {row[0]: row for row in found}
        links = Asset.tags.through.objects.filter(asset_id__in=ids).values_list(
            "asset_id", "tag__name"
        )
        for asset_id, tag in links:
            tags[asset_id].append(tag)
    # One reversal for the page; each row's link is the same path with its own id.
    prefix, _, suffix = reverse("assets:detail", args=[0]).rpartition("0")
    items = []
    for pk in ids:
        if pk not in rows:
            continue
        _, name, kind, status, criticality, organization, site, team = rows[pk]
        items.append(
            AssetRow(
                pk=pk,
                name=name,
                url=f"{prefix}{pk}{suffix}",
                organization=organization,
                site=site,
                kind=KIND_LABELS.get(kind, kind),
                status=STATUS_LABELS.get(status, status),
                criticality=criticality,
                criticality_label=CRITICALITY_LABELS.get(criticality, criticality),
                owner_team=team,
                tags=sorted(tags.get(pk, ())),
            )
        )
    return RowPage(items=items, next_cursor=keys.next_cursor, prev_cursor=keys.prev_cursor)


@login_required
def asset_list(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    require(user, Capability.VIEW_CMDB)
    form, assets, query = _filters(request)
    # No total count: on a large CMDB a COUNT(*) per page view costs more than the page itself.
    order = _order(form)
    cursor = request.GET.get("cursor") or None
    try:
        page = _page_of(assets, order=order, cursor=cursor)
    except InvalidCursor:
        messages.warning(request, "That page link is no longer valid; showing the first page.")
        page = _page_of(assets, order=order, cursor=None)
    context = {
        "form": form,
        "page": page,
        "query": query,
        "export_query": query.urlencode(),
        "show_org": not form.cleaned_data.get("org"),
        "can_edit": can(user, Capability.EDIT_CMDB),
        "htmx": is_htmx(request),
    }
    template = "assets/list.html#results" if is_htmx(request) else "assets/list.html"
    return vary_on_htmx(render(request, template, context))


@require_GET
@login_required
def asset_export(request: HttpRequest) -> StreamingHttpResponse:
    require(current_user(request), Capability.VIEW_CMDB)
    form, assets, _ = _filters(request)
    response = StreamingHttpResponse(
        export_assets(assets.order_by(*_order(form))), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = 'attachment; filename="assets.csv"'
    return response


def _default_org_for_create(request: HttpRequest) -> Organization | None:
    chosen = request.POST.get("organization") or request.GET.get("organization")
    orgs = organizations_for(current_user(request))
    if chosen:
        try:
            pk = int(chosen)
        except ValueError:
            return None
        # A tampered id past the database's integer range is simply not an organisation.
        if not 0 < pk < 2**63:
            return None
        return orgs.filter(pk=pk).first()
    return _single_organization(current_user(request)) or selected_organization(request)


def _asset_changes(cleaned: dict[str, Any]) -> dict[str, Any]:
    changes = dict(cleaned)
    changes.pop("organization", None)
    return changes


@login_required
def asset_create(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    require(user, Capability.EDIT_CMDB)
    org = _default_org_for_create(request)
    initial = {"organization": org.pk} if org else {}
    form = AssetForm(
        request.POST or None,
        user=user,
        organization=org,
        fixed_organization=False,
        initial=initial,
    )
    if request.method == "POST" and form.is_valid():
        target: Organization = form.cleaned_data["organization"]
        try:
            asset = services.create_asset(target, actor=user, **_asset_changes(form.cleaned_data))
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Asset {asset.name} added.")
            return redirect("assets:detail", pk=asset.pk)
    return render(request, "assets/form.html", {"form": form, "asset": None})


@login_required
def asset_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = current_user(request)
    asset = get_asset_for(user, pk, capability=Capability.EDIT_CMDB)
    initial = {
        "name": asset.name,
        "kind": asset.kind,
        "criticality": asset.criticality,
        "status": asset.status,
        "site": asset.site_id,
        "owner_team": asset.owner_team_id,
        "description": asset.description,
        "tags": ", ".join(tag.name for tag in asset.tags.all()),
        "attributes": attributes_text(asset.attributes or {}),
    }
    form = AssetForm(
        request.POST or None,
        user=user,
        organization=asset.organization,
        fixed_organization=True,
        existing_attributes=asset.attributes or {},
        initial=initial,
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.update_asset(asset, actor=user, **_asset_changes(form.cleaned_data))
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, "Asset saved.")
            return redirect("assets:detail", pk=asset.pk)
    return render(request, "assets/form.html", {"form": form, "asset": asset})


@login_required
def asset_delete(request: HttpRequest, pk: int) -> HttpResponse:
    asset = get_asset_for(current_user(request), pk, capability=Capability.EDIT_CMDB)
    if request.method == "POST":
        services.delete_asset(asset, actor=current_user(request))
        messages.success(request, f"Asset {asset.name} deleted.")
        return redirect("assets:list")
    return render(
        request,
        "web/confirm_delete.html",
        {
            "title": f"Delete {asset.name}?",
            "warning": "Its relations to other assets are deleted with it. "
            "The audit log keeps its history.",
            "cancel_url": reverse("assets:detail", kwargs={"pk": asset.pk}),
        },
    )


def _graph_context(user: User, asset: Asset, form: RelationForm | None = None) -> dict[str, Any]:
    impact = services.impact_of(asset)
    # A small organisation gets a plain list to pick from; a large one a name search.
    candidates = list(
        assets_for(user)
        .filter(organization_id=asset.organization_id)
        .exclude(pk=asset.pk)
        .only("id", "name")
        .order_by("name", "id")[: TARGET_SELECT_LIMIT + 1]
    )
    return {
        "target_choices": candidates if len(candidates) <= TARGET_SELECT_LIMIT else None,
        "asset": asset,
        "outgoing": asset.outgoing.select_related("target").order_by("kind", "target__name"),
        "incoming": asset.incoming.select_related("source").order_by("kind", "source__name"),
        "impact": impact[:IMPACT_LIMIT],
        "impact_total": len(impact),
        "relation_form": form or RelationForm(),
        "can_edit": can(user, Capability.EDIT_CMDB),
    }


@login_required
def asset_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = current_user(request)
    asset = get_asset_for(user, pk)
    return _render_detail(request, asset)


def _render_detail(
    request: HttpRequest, asset: Asset, form: RelationForm | None = None
) -> HttpResponse:
    user = current_user(request)
    context = _graph_context(user, asset, form)
    context["tags"] = list(asset.tags.all())
    context["attributes"] = sorted((asset.attributes or {}).items())
    if can(user, Capability.VIEW_AUDIT):
        context["history"] = list(
            AuditEntry.objects.for_object("assets.asset", asset.pk)
            .filter(organization=asset.organization)
            .order_by("-at", "-id")[:HISTORY_LIMIT]
        )
    return render(request, "assets/detail.html", context)


def _graph_response(request: HttpRequest, asset: Asset, form: RelationForm | None) -> HttpResponse:
    if is_htmx(request):
        return render(
            request, "assets/detail.html#graph", _graph_context(current_user(request), asset, form)
        )
    if form is not None and form.errors:
        return _render_detail(request, asset, form)
    return redirect("assets:detail", pk=asset.pk)


@login_required
def relation_add(request: HttpRequest, pk: int) -> HttpResponse:
    user = current_user(request)
    # The asset is looked up before the method is checked, so that another organisation's
    # asset id answers 404 whatever the method.
    asset = get_asset_for(user, pk, capability=Capability.EDIT_CMDB)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    form = RelationForm(request.POST)
    if form.is_valid():
        name = form.cleaned_data["target"].strip()
        target = (
            assets_for(user)
            .filter(organization_id=asset.organization_id, name__iexact=name)
            .first()
        )
        if target is None:
            form.add_error("target", f"No asset named “{name}” in {asset.organization.name}.")
        else:
            try:
                services.relate_assets(
                    asset, actor=user, kind=form.cleaned_data["kind"], target=target
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                if not is_htmx(request):
                    messages.success(request, "Relation added.")
                return _graph_response(request, asset, None)
    return _graph_response(request, asset, form)


@login_required
def relation_delete(request: HttpRequest, pk: int, relation_id: int) -> HttpResponse:
    user = current_user(request)
    asset = get_asset_for(user, pk)
    relation = get_relation_for(user, relation_id)
    if asset.pk not in (relation.source_id, relation.target_id):
        raise Http404("Relation not found.")
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    require(user, Capability.EDIT_CMDB)
    services.delete_relation(relation, actor=user)
    if not is_htmx(request):
        messages.success(request, "Relation removed.")
    return _graph_response(request, asset, None)


@login_required
def relation_targets(request: HttpRequest, pk: int) -> HttpResponse:
    """Suggestions for the relation form's asset name, from the same organisation."""
    asset = get_asset_for(current_user(request), pk)
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET"])
    text = request.GET.get("target", "").replace("\x00", "").strip()[:200]
    suggestions: list[Asset] = []
    if text:
        suggestions = list(
            assets_for(current_user(request))
            .filter(organization_id=asset.organization_id, name__icontains=text)
            .exclude(pk=asset.pk)
            .only("id", "name")
            .order_by("name", "id")[:TARGET_SUGGESTIONS]
        )
    return render(request, "assets/_targets.html", {"suggestions": suggestions})


# CSV import --------------------------------------------------------------------------------

IMPORT_SALT = "buttress.assets.import"
# The checked file travels back with the confirmation, signed so that it is the file that
# was checked, and compressed; an hour is long enough to read a report.
IMPORT_MAX_AGE = 3600


def _import_token(user: User, org: Organization, text: str) -> str:
    return signing.dumps(
        {"user": user.pk, "org": org.pk, "data": text}, salt=IMPORT_SALT, compress=True
    )


@login_required
def asset_import(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    require(user, Capability.EDIT_CMDB)
    if request.method == "POST" and "token" in request.POST:
        return _import_confirmed(request)
    default = selected_organization(request) or _single_organization(user)
    form = ImportForm(
        request.POST or None,
        request.FILES or None,
        user=user,
        initial={"organization": default.pk} if default else {},
    )
    context: dict[str, Any] = {"form": form}
    if request.method == "POST" and form.is_valid():
        org = get_organization_for(
            user, form.cleaned_data["organization"].pk, capability=Capability.EDIT_CMDB
        )
        upload = form.cleaned_data["file"]
        if upload.size > MAX_BYTES:
            form.add_error("file", f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB.")
            return render(request, "assets/import.html", context)
        raw = upload.read()
        report = import_assets(org, actor=user, data=raw, dry_run=True)
        context.update({"report": report, "organization": org, "filename": upload.name})
        if report.ok:
            token = _import_token(user, org, raw.decode("utf-8-sig"))
            # The confirmation is posted back; past the body limit it could not be.
            if len(token) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE - 4096:
                context["too_large"] = True
            else:
                context["confirm"] = ImportConfirmForm(initial={"token": token})
    return render(request, "assets/import.html", context)


def _import_confirmed(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    confirm = ImportConfirmForm(request.POST)
    payload: dict[str, Any] | None = None
    if confirm.is_valid():
        try:
            payload = signing.loads(
                confirm.cleaned_data["token"], salt=IMPORT_SALT, max_age=IMPORT_MAX_AGE
            )
        except signing.BadSignature:
            payload = None
    if not isinstance(payload, dict) or payload.get("user") != user.pk:
        messages.error(request, "That import has expired; upload the file again.")
        return redirect("assets:import")
    org = get_organization_for(user, payload["org"], capability=Capability.EDIT_CMDB)
    report = import_assets(org, actor=user, data=str(payload["data"]), dry_run=False)
    if report.ok:
        messages.success(
            request,
            f"Imported into {org.name}: {report.created} created, {report.updated} updated.",
        )
        return redirect(f"{reverse('assets:list')}?org={org.pk}")
    # The assets changed between the check and the confirmation; show what is wrong now.
    context = {
        "form": ImportForm(user=user, initial={"organization": org.pk}),
        "report": report,
        "organization": org,
    }
    return render(request, "assets/import.html", context)
