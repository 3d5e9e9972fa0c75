"""Helpers for calling the API as a given user with a bearer token."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client

from buttress.accounts import services as accounts
from buttress.accounts.models import User

API = "/api/v1"


@dataclass
class ApiClient:
    client: Client
    token: str | None = None

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        params: dict[str, Any] | None = None,
        content_type: str = "application/json",
        raw: bytes | str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        url = path if path.startswith(API) else f"{API}{path}"
        extra = dict(headers or {})
        if self.token is not None:
            extra.setdefault("Authorization", f"Bearer {self.token}")
        data: Any
        if raw is not None:
            data = raw
        elif body is not None:
            data = json.dumps(body)
        else:
            data = None
        if method.upper() == "GET":
            return self.client.get(url, data=params, headers=extra)
        if params:
            url = f"{url}?{urlencode(params)}"
        handler = getattr(self.client, method.lower())
        if data is None:
            return handler(url, headers=extra)
        return handler(url, data=data, content_type=content_type, headers=extra)

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self.request("POST", path, body, **kwargs)

    def patch(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self.request("PATCH", path, body, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.request("DELETE", path, **kwargs)


def api_as(user: User, *, scope: str = "write", raise_errors: bool = True) -> ApiClient:
    """A client that authenticates as ``user`` with a new token of ``scope``."""
    issued = accounts.create_token(user, actor=user, name="tests", scope=scope)
    return ApiClient(Client(raise_request_exception=raise_errors), issued.secret)


@pytest.fixture
def as_admin(admin_user: User) -> ApiClient:
    return api_as(admin_user)


@pytest.fixture
def as_agent(agent: User) -> ApiClient:
    return api_as(agent)


@pytest.fixture
def as_viewer(viewer: User) -> ApiClient:
    return api_as(viewer)


@pytest.fixture
def as_org_admin(org_admin: User) -> ApiClient:
    return api_as(org_admin)
