"""Catalogue pages: staff manage items and their forms (the field editor works in place with
HTMX); customers browse the items offered to their organisation in the portal and send an
item's form, which opens their request.

Items are fetched through access.py (another organisation's item is a 404, a role that may not
change it a 403) and every change goes through services.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import reverse

from buttress.catalogue import access, services
from buttress.catalogue.forms import PREFIX, FieldForm, ItemForm, RequestForm
from buttress.catalogue.models import CatalogueField, CatalogueItem
from buttress.desk.access import DeskCapability, require
from buttress.desk.models import Source
from buttress.lib.pagination import InvalidCursor, paginate
from buttress.tenancy.access import get_organization_for, organizations_for
from buttress.web.forms import add_service_errors
from buttress.web.htmx import is_htmx, vary_on_htmx
from buttress.web.users import current_user

if TYPE_CHECKING:
    from buttress.accounts.models import User

PAGE_SIZE = 50
ORDER = ("position", "name", "id")


def staff_user(request: HttpRequest) -> User:
    user = current_user(request)
    if not access.is_staff(user):
        raise PermissionDenied("The catalogue is managed by provider staff; see the portal.")
    return user


# --- staff pages ---------------------------------------------------------------------------


@login_required
def item_list(request: HttpRequest) -> HttpResponse:
    user = staff_user(request)
    items = access.items_for(user).select_related("organization", "team")
    try:
        page = paginate(items, order=ORDER, cursor=request.GET.get("cursor"), limit=PAGE_SIZE)
    except InvalidCursor:
        page = paginate(items, order=ORDER, limit=PAGE_SIZE)
    context = {
        "page": page,
        "query": _query(request),
        "can_manage": user.role in access.MANAGER_ROLES,
    }
    return render(request, "catalogue/list.html", context)


def _query(request: HttpRequest) -> Any:
    query = request.GET.copy()
    query.pop("cursor", None)
    return query


def _organization(user: User, form: ItemForm) -> Any:
    chosen = form.cleaned_data.get("organization")
    return get_organization_for(user, chosen) if chosen else None


@login_required
def item_create(request: HttpRequest) -> HttpResponse:
    user = staff_user(request)
    if user.role not in access.MANAGER_ROLES:
        raise PermissionDenied("Only admins and agents manage the service catalogue.")
    form = ItemForm(request.POST or None, organizations=organizations_for(user))
    if request.method == "POST" and form.is_valid():
        try:
            organization = _organization(user, form)
            access.require_manage(user, organization.pk if organization else None)
            item = services.create_item(
                actor=user, organization=organization, **form.service_fields()
            )
        except Http404:
            form.add_error("organization", "Choose one of the listed organisations.")
        except PermissionDenied as exc:
            form.add_error("organization", str(exc))
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Catalogue item {item.name} added; now add its fields.")
            return redirect("catalogue:detail", item_id=item.pk)
    return render(request, "catalogue/item_form.html", {"form": form, "item": None})


def _detail_context(
    user: User, item: CatalogueItem, *, add_form: FieldForm | None = None, editing: Any = None
) -> dict[str, Any]:
    return {
        "item": item,
        "fields": list(item.fields.order_by("position", "id")),
        "can_manage": access.can_manage(user, item.organization_id),
        "add_form": add_form or FieldForm(),
        # (field id, its bound form) while a field is being edited in place
        "editing": editing,
    }


def _fields_block(
    request: HttpRequest, user: User, item: CatalogueItem, **extra: Any
) -> HttpResponse:
    """The field editor alone for HTMX, else the whole page (or back to it)."""
    if is_htmx(request):
        template = "catalogue/detail.html#fields"
        return vary_on_htmx(render(request, template, _detail_context(user, item, **extra)))
    if any(f is not None and getattr(f, "errors", None) for f in extra.values()):
        return render(request, "catalogue/detail.html", _detail_context(user, item, **extra))
    return redirect("catalogue:detail", item_id=item.pk)


@login_required
def item_detail(request: HttpRequest, item_id: int) -> HttpResponse:
    item = access.get_item_for(current_user(request), item_id)
    user = staff_user(request)
    return vary_on_htmx(render(request, "catalogue/detail.html", _detail_context(user, item)))


@login_required
def item_edit(request: HttpRequest, item_id: int) -> HttpResponse:
    item = access.get_item_for(current_user(request), item_id, write=True)
    user = staff_user(request)
    form = ItemForm(
        request.POST or None,
        initial=ItemForm.initial_for(item),
        organizations=organizations_for(user),
        editing=True,
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.update_item(item, actor=user, **form.service_fields())
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Catalogue item {item.name} saved.")
            return redirect("catalogue:detail", item_id=item.pk)
    return render(request, "catalogue/item_form.html", {"form": form, "item": item})


@login_required
def item_delete(request: HttpRequest, item_id: int) -> HttpResponse:
    item = access.get_item_for(current_user(request), item_id, write=True)
    user = staff_user(request)
    if request.method == "POST":
        services.delete_item(item, actor=user)
        messages.success(request, f"Catalogue item {item.name} deleted.")
        return redirect("catalogue:list")
    return render(
        request,
        "web/confirm_delete.html",
        {
            "title": f"Delete the catalogue item {item.name}?",
            "warning": "Requests already made keep their answers. To stop offering it while "
            "keeping it, untick Offered instead.",
            "cancel_url": reverse("catalogue:detail", kwargs={"item_id": item.pk}),
        },
    )


@login_required
def field_add(request: HttpRequest, item_id: int) -> HttpResponse:
    item = access.get_item_for(current_user(request), item_id, write=True)
    user = staff_user(request)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    form = FieldForm(request.POST)
    if form.is_valid():
        try:
            services.add_field(item, actor=user, **form.service_fields())
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            return _fields_block(request, user, item)
    return _fields_block(request, user, item, add_form=form)


def _field(request: HttpRequest, item_id: int, field_id: int) -> tuple[User, CatalogueField]:
    user = current_user(request)
    item = access.get_item_for(user, item_id, write=True)
    field = access.get_field_for(user, item, field_id, write=True)
    return staff_user(request), field


@login_required
def field_edit(request: HttpRequest, item_id: int, field_id: int) -> HttpResponse:
    user, field = _field(request, item_id, field_id)
    if request.method == "GET":
        form = FieldForm(initial=FieldForm.initial_for(field))
        return _fields_block(request, user, field.item, editing=(field.pk, form))
    if request.method != "POST":
        return HttpResponseNotAllowed(["GET", "POST"])
    form = FieldForm(request.POST)
    if form.is_valid():
        try:
            services.update_field(field, actor=user, **form.service_fields())
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            return _fields_block(request, user, field.item)
    return _fields_block(request, user, field.item, editing=(field.pk, form))


@login_required
def field_delete(request: HttpRequest, item_id: int, field_id: int) -> HttpResponse:
    user, field = _field(request, item_id, field_id)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    services.delete_field(field, actor=user)
    return _fields_block(request, user, field.item)


@login_required
def field_move(request: HttpRequest, item_id: int, field_id: int) -> HttpResponse:
    user, field = _field(request, item_id, field_id)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    services.move_field(field, actor=user, up=request.POST.get("direction") != "down")
    return _fields_block(request, user, field.item)


# --- portal pages --------------------------------------------------------------------------


def portal_user(request: HttpRequest) -> User:
    user = current_user(request)
    if access.is_staff(user):
        raise PermissionDenied("The portal is for customers; staff manage the catalogue.")
    require(user, DeskCapability.OPEN)
    if user.organization_id is None:
        raise PermissionDenied("Your account belongs to no organisation.")
    return user


@login_required
def portal_list(request: HttpRequest) -> HttpResponse:
    user = portal_user(request)
    items = access.offered_items_for(user).order_by(*ORDER)
    try:
        page = paginate(items, order=ORDER, cursor=request.GET.get("cursor"), limit=PAGE_SIZE)
    except InvalidCursor:
        page = paginate(items, order=ORDER, limit=PAGE_SIZE)
    return render(request, "catalogue/portal_list.html", {"page": page, "query": _query(request)})


def _add_answer_errors(form: RequestForm, exc: ValidationError) -> None:
    if not hasattr(exc, "error_dict"):
        add_service_errors(form, exc)
        return
    for key, errors in exc.error_dict.items():
        name = PREFIX + key if PREFIX + key in form.fields else key
        if name in form.errors:
            continue  # already said by the form's own check
        for error in errors:
            for message in error.messages:
                if name in form.fields:
                    form.add_error(name, message)
                elif key == NON_FIELD_ERRORS:
                    form.add_error(None, message)
                else:
                    form.add_error(None, f"{key}: {message}")


@login_required
def portal_request(request: HttpRequest, item_id: int) -> HttpResponse:
    # The item first: another organisation's answers 404 before any role check.
    item = access.get_item_for(current_user(request), item_id)
    user = portal_user(request)
    if not item.is_active:
        raise Http404("No such catalogue item.")
    fields = list(item.fields.order_by("position", "id"))
    posted = request.method == "POST"
    form = RequestForm(
        request.POST if posted else None, request.FILES if posted else None, fields=fields
    )
    if request.method == "POST":
        # Django's checks show the widget errors; the service's are the authoritative ones.
        if not form.is_valid():
            try:
                services.check_answers(item, form.answers())
            except ValidationError as exc:
                _add_answer_errors(form, exc)
        else:
            try:
                submitted = services.submit_request(
                    item,
                    actor=user,
                    answers=form.answers(),
                    summary=form.cleaned_data["summary"],
                    details=form.cleaned_data["details"],
                    files=form.cleaned_data["upload"],
                    source=Source.PORTAL,
                )
            except ValidationError as exc:
                _add_answer_errors(form, exc)
            else:
                ticket = submitted.ticket
                messages.success(request, f"Your request {ticket.reference} is open.")
                return redirect("portal:detail", pk=ticket.pk)
    elif request.method != "GET":
        return HttpResponseNotAllowed(["GET", "POST"])
    return render(request, "catalogue/portal_form.html", {"item": item, "form": form})
