"""What every router of the v1 API shares: authentication, errors, pagination, tenancy.

Routers take the user from :func:`current_user`, resolve an ``organization`` id with
:func:`organization_param` and return lists through :func:`paginated`; everything they raise
(``Http404``, ``PermissionDenied``, Django's ``ValidationError``...) becomes a JSON
``{"detail": ...}`` answer through the handlers installed by :func:`install_error_handlers`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.datastructures import MultiValueDict
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.openapi.docs import DocsBase
from ninja.parser import Parser
from ninja.security import APIKeyCookie, HttpBearer
from ninja.utils import check_csrf
from pydantic import Field

from buttress.accounts.models import ApiToken, Team, User
from buttress.accounts.services import authenticate_token
from buttress.lib import pagination
from buttress.tenancy import access
from buttress.tenancy.access import Capability
from buttress.tenancy.models import Organization

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
REALM = 'Bearer realm="buttress"'
READ_SCOPE_MESSAGE = "This token's scope is read."
_TOKEN_ATTR = "api_token"  # noqa: S105 - an attribute name
_PARSE_ERROR_ATTR = "_buttress_body_error"


# --- authentication --------------------------------------------------------------------------


class Unauthenticated(AuthenticationError):
    """A 401 that says why, with the ``WWW-Authenticate`` challenge RFC 6750 asks for."""

    def __init__(self, message: str, *, error: str | None = None) -> None:
        super().__init__(401, message)
        self.challenge = f'{REALM}, error="{error}"' if error else REALM


def _check_scope(request: HttpRequest) -> None:
    token = api_token(request)
    if (
        token is not None
        and token.scope != ApiToken.Scope.WRITE
        and request.method not in SAFE_METHODS
    ):
        raise PermissionDenied(READ_SCOPE_MESSAGE)


class BearerTokenAuth(HttpBearer):
    """``Authorization: Bearer <token>``. A header that is present but wrong never falls back
    to the session, so a script with a revoked token fails loudly instead of acting as whoever
    is signed in to the same browser."""

    def __call__(self, request: HttpRequest) -> User | None:
        header = request.headers.get("Authorization")
        if not header:
            return None
        scheme, _, raw = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not raw.strip():
            raise Unauthenticated(
                "Send the token as 'Authorization: Bearer <token>'.", error="invalid_request"
            )
        return self.authenticate(request, raw)

    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        found = authenticate_token(token)
        if found is None:
            raise Unauthenticated(
                "The API token is invalid, expired or revoked.", error="invalid_token"
            )
        setattr(request, _TOKEN_ATTR, found)
        request.user = found.user
        _check_scope(request)
        return found.user


class SessionAuth(APIKeyCookie):
    """The browser's Django session; unsafe methods must carry the CSRF token (X-CSRFToken)."""

    param_name = settings.SESSION_COOKIE_NAME

    def __call__(self, request: HttpRequest) -> User | None:
        return self.authenticate(request, request.COOKIES.get(self.param_name))

    def authenticate(self, request: HttpRequest, key: str | None) -> User | None:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not user.is_active:
            return None
        exempt = getattr(request, "_ninja_csrf_exempt", False)
        if request.method not in SAFE_METHODS and not exempt and check_csrf(request):
            raise PermissionDenied(
                "CSRF check failed: send the csrftoken cookie's value in an X-CSRFToken header."
            )
        setattr(request, _TOKEN_ATTR, None)
        assert isinstance(user, User)
        return user


def current_user(request: HttpRequest) -> User:
    """The authenticated user of an API request."""
    user = getattr(request, "auth", None)
    if not isinstance(user, User):
        raise Unauthenticated("Authentication required.")
    return user


def staff_user(request: HttpRequest, *, refusal: str) -> User:
    """The caller, who must be provider staff (else 403 with ``refusal``): for the routes of
    the agent workspace, such as saved views and macros."""
    user = current_user(request)
    if not user.is_provider_staff:
        raise PermissionDenied(refusal)
    return user


def api_token(request: HttpRequest) -> ApiToken | None:
    """The bearer token the request came with; None for a browser session."""
    token = getattr(request, _TOKEN_ATTR, None)
    return token if isinstance(token, ApiToken) else None


def require_write(request: HttpRequest) -> None:
    """Refuse a change made with a read-scoped token (sessions may always write)."""
    _check_scope(request)


# --- request bodies --------------------------------------------------------------------------


# The widest integer any column holds (a signed 64-bit id); a larger one cannot name a row
# and SQLite refuses to even bind it.
MAX_INT = 2**63 - 1
NUL_MESSAGE = "Text may not contain NUL (\\u0000) characters."


def _unstorable(value: Any) -> str | None:
    """Why ``value`` (decoded JSON) cannot be stored, or None.

    PostgreSQL rejects NUL in text and JSON, and no database encodes a lone UTF-16 surrogate,
    which ``json.loads`` accepts from a ``\\ud800`` escape; both would otherwise fail deep in a
    query as a server error.
    """
    if isinstance(value, str):
        if "\x00" in value:
            return NUL_MESSAGE
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "Text must be valid Unicode (a lone surrogate escape was sent)."
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        if not -MAX_INT - 1 <= value <= MAX_INT:
            return f"The number {value} is out of range."
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            if reason := _unstorable(key) or _unstorable(item):
                return reason
    if isinstance(value, list):
        for item in value:
            if reason := _unstorable(item):
                return reason
    return None


class JsonParser(Parser):
    """JSON only: a form or a text body is refused instead of being guessed at."""

    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        content_type = request.content_type or ""
        if (
            content_type
            and content_type != "application/json"
            and not content_type.endswith("+json")
        ):
            message = f"Send the body as JSON (Content-Type: application/json), not {content_type}."
            setattr(request, _PARSE_ERROR_ATTR, message)
            raise ValueError(message)
        try:
            data = json.loads(request.body)
        except (ValueError, UnicodeDecodeError) as exc:
            message = f"The body is not valid JSON: {exc}."
            setattr(request, _PARSE_ERROR_ATTR, message)
            raise ValueError(message) from exc
        if not isinstance(data, dict):
            message = "The body must be a JSON object."
            setattr(request, _PARSE_ERROR_ATTR, message)
            raise ValueError(message)
        if reason := _unstorable(data):
            setattr(request, _PARSE_ERROR_ATTR, reason)
            raise ValueError(reason)
        return data

    def parse_querydict(
        self, data: MultiValueDict[str, Any], list_fields: list[str], request: HttpRequest
    ) -> dict[str, Any]:
        for key, values in data.lists():
            if "\x00" in key or any(isinstance(v, str) and "\x00" in v for v in values):
                raise HttpError(400, NUL_MESSAGE)
        return super().parse_querydict(data, list_fields, request)


# --- errors ----------------------------------------------------------------------------------


def _detail(api: NinjaAPI, request: HttpRequest, detail: Any, status: int) -> HttpResponse:
    return api.create_response(request, {"detail": detail}, status=status)


def validation_detail(exc: DjangoValidationError) -> str | dict[str, list[str]]:
    """A service's ValidationError as a message, or ``{field: [messages]}``."""
    if hasattr(exc, "error_dict"):
        return {
            ("detail" if field == "__all__" else field): [str(m) for m in errors]
            for field, errors in exc.message_dict.items()
        }
    messages = [str(m) for m in exc.messages]
    return messages[0] if len(messages) == 1 else "; ".join(messages)


def install_error_handlers(api: NinjaAPI) -> None:
    def not_found(request: HttpRequest, exc: Any) -> HttpResponse:
        message = str(exc) if exc.args and str(exc) else "Not found."
        return _detail(api, request, message, 404)

    def forbidden(request: HttpRequest, exc: Any) -> HttpResponse:
        message = str(exc) or "You do not have permission to do this."
        return _detail(api, request, message, 403)

    def unauthenticated(request: HttpRequest, exc: Any) -> HttpResponse:
        if isinstance(exc, Unauthenticated):
            message, challenge = exc.message, exc.challenge
        else:
            message = "Authentication required: send 'Authorization: Bearer <token>' or sign in."
            challenge = REALM
        response = _detail(api, request, message, 401)
        response["WWW-Authenticate"] = challenge
        return response

    def http_error(request: HttpRequest, exc: Any) -> HttpResponse:
        message = getattr(request, _PARSE_ERROR_ATTR, None) or exc.message
        return _detail(api, request, message, exc.status_code)

    def invalid(request: HttpRequest, exc: Any) -> HttpResponse:
        return _detail(api, request, validation_detail(exc), 400)

    def unprocessable(request: HttpRequest, exc: Any) -> HttpResponse:
        return _detail(api, request, exc.errors, 422)

    def too_big(request: HttpRequest, exc: Any) -> HttpResponse:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        message = "The request body is too large."
        if limit:
            message = f"The request body is larger than {limit // 1024} KiB."
        return _detail(api, request, message, 413)

    def conflict(request: HttpRequest, exc: Any) -> HttpResponse:
        # Services check uniqueness first; this is the race where two requests pass the check.
        return _detail(api, request, "This conflicts with a change made at the same time.", 409)

    def out_of_range(request: HttpRequest, exc: Any) -> HttpResponse:
        # SQLite cannot bind an integer past 64 bits, e.g. ?site=99999999999999999999.
        return _detail(api, request, "A number in the request is out of range.", 400)

    api.add_exception_handler(Http404, not_found)
    api.add_exception_handler(PermissionDenied, forbidden)
    api.add_exception_handler(AuthenticationError, unauthenticated)
    api.add_exception_handler(HttpError, http_error)
    api.add_exception_handler(DjangoValidationError, invalid)
    api.add_exception_handler(NinjaValidationError, unprocessable)
    api.add_exception_handler(RequestDataTooBig, too_big)
    api.add_exception_handler(IntegrityError, conflict)
    api.add_exception_handler(OverflowError, out_of_range)


# --- pagination ------------------------------------------------------------------------------


class CursorPage[ItemT](Schema):
    items: list[ItemT]
    next_cursor: str | None = Field(description="Pass as ?cursor= to get the next page.")
    prev_cursor: str | None = Field(description="Pass as ?cursor= to get the previous page.")


class PageParams(Schema):
    cursor: str | None = Field(None, description="A next_cursor or prev_cursor of a page.")
    limit: int | None = Field(
        None,
        description=(
            f"Rows per page, 1 to {pagination.MAX_LIMIT} (default {pagination.DEFAULT_LIMIT})."
        ),
        json_schema_extra={"minimum": 1, "maximum": pagination.MAX_LIMIT},
    )


def paginated[M: Model](
    queryset: QuerySet[M],
    params: PageParams,
    *,
    order: Sequence[str] = ("name", "id"),
    serialize: Callable[[list[M]], list[Any]] | None = None,
) -> dict[str, Any]:
    """One page of ``queryset`` in keyset order as ``{items, next_cursor, prev_cursor}``.

    ``serialize`` turns the page's rows into items (e.g. to attach data fetched in one query
    for the whole page); by default the rows themselves are returned for the response schema.
    """
    if params.limit is not None and not 1 <= params.limit <= pagination.MAX_LIMIT:
        raise HttpError(400, f"limit must be between 1 and {pagination.MAX_LIMIT}.")
    try:
        page = pagination.paginate(
            queryset, order=order, cursor=params.cursor or None, limit=params.limit
        )
    except pagination.InvalidCursor as exc:
        raise HttpError(400, str(exc)) from exc
    items = serialize(page.items) if serialize is not None else page.items
    return {"items": items, "next_cursor": page.next_cursor, "prev_cursor": page.prev_cursor}


# --- tenancy ---------------------------------------------------------------------------------


def organization_param(
    request: HttpRequest,
    pk: int | str | None,
    *,
    capability: Capability = Capability.VIEW_ORG,
) -> Organization:
    """The organisation an ``organization`` id names, if the user may see it (else 404)."""
    if pk is None:
        raise HttpError(400, "organization is required.")
    return access.get_organization_for(current_user(request), pk, capability=capability)


def team_param(pk: int | None, *, field: str) -> Team | None:
    """The provider team a body's ``field`` names; an unknown id is a 400 on that field."""
    if pk is None:
        return None
    team = Team.objects.filter(pk=pk).first()
    if team is None:
        raise DjangoValidationError({field: f"There is no team {pk}."})
    return team


def optional_organization(
    request: HttpRequest,
    pk: int | str | None,
    *,
    capability: Capability = Capability.VIEW_ORG,
) -> Organization | None:
    if pk is None:
        return None
    return organization_param(request, pk, capability=capability)


# --- schemas shared by routers ---------------------------------------------------------------


class Detail(Schema):
    detail: Any = Field(description="A message, or {field: [messages]} for invalid fields.")


ERRORS: dict[int, type[Schema]] = {
    400: Detail,
    401: Detail,
    403: Detail,
    404: Detail,
    409: Detail,
    413: Detail,
    422: Detail,
}


def responses(ok: Any, status: int = 200) -> dict[int, Any]:
    """A route's ``response=`` map: its success schema plus the documented errors."""
    return {status: ok, **ERRORS}


# --- the API object --------------------------------------------------------------------------


class LocalSwagger(DocsBase):
    """Swagger UI served from buttress's own static files: no CDN, so it works air-gapped."""

    template = "api/docs.html"
    settings: dict[str, Any] = {
        "layout": "BaseLayout",
        "deepLinking": True,
        # The default asks validator.swagger.io to check the schema, a call to the internet.
        "validatorUrl": None,
        "persistAuthorization": False,
    }

    def render_page(self, request: HttpRequest, api: NinjaAPI, **kwargs: Any) -> HttpResponse:
        swagger_settings = {**self.settings, "url": self.get_openapi_url(api, kwargs)}
        context = {"api": api, "swagger_settings": swagger_settings}
        return render(request, self.template, context)


def build_api() -> NinjaAPI:
    api = NinjaAPI(
        title="buttress API",
        version="1",
        description=(
            "Authenticate with an API token (`Authorization: Bearer <token>`) or a signed-in "
            "browser session (unsafe methods then need the `X-CSRFToken` header). Lists are "
            "cursor-paginated: follow `next_cursor` / `prev_cursor`. Errors are "
            '`{"detail": ...}`.'
        ),
        urls_namespace="api-v1",
        auth=[BearerTokenAuth(), SessionAuth()],
        parser=JsonParser(),
        docs=LocalSwagger(),
        docs_url="/docs",
        openapi_url="/openapi.json",
    )
    install_error_handlers(api)
    return api
