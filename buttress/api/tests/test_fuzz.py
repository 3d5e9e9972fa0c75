"""Odd input is a 4xx with a JSON detail on every database, never a server error."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from buttress.accounts.models import User
from buttress.api.tests.conftest import ApiClient, api_as
from buttress.tenancy.models import Organization, Site
from buttress.testing.factories import SiteFactory, TeamFactory

pytestmark = pytest.mark.django_db

HUGE = 99999999999999999999


@pytest.fixture
def client(admin_user: User) -> ApiClient:
    # Without raise_errors a server error is a 500 response, which is what is asserted against.
    return api_as(admin_user, raise_errors=False)


def _bodies(org: Organization, site: Site) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        ("POST", "/organizations", {"name": "a\x00b"}),
        ("PATCH", f"/organizations/{org.pk}", {"notes": "a\x00b"}),
        ("POST", "/sites", {"organization": org.pk, "name": "a\x00b"}),
        ("PATCH", f"/sites/{site.pk}", {"address": "a\x00b"}),
        ("POST", "/contacts", {"organization": org.pk, "name": "a\x00b"}),
        ("POST", "/teams", {"name": "a\x00b"}),
        ("POST", "/tokens", {"name": "a\x00b"}),
        ("POST", "/users", {"email": "n@x.example", "role": "agent", "full_name": "a\x00b"}),
    ]


def test_nul_in_a_json_body_is_refused(client, org):
    site = SiteFactory.create(organization=org)

    for method, path, body in _bodies(org, site):
        response = client.request(method, path, body)

        assert response.status_code == 400, (method, path, response.content)
        assert "NUL" in response.json()["detail"]


def test_escaped_nul_in_an_attribute_key_is_refused(client, org):
    raw = json.dumps({"organization": org.pk, "name": "web", "attributes": {"a\x00": 1}})

    response = client.post("/assets", raw=raw)

    assert response.status_code == 400
    assert "NUL" in response.json()["detail"]


def test_lone_surrogate_escape_is_refused(client, org):
    response = client.patch(f"/organizations/{org.pk}", raw='{"notes": "\\ud800"}')

    assert response.status_code == 400
    assert "Unicode" in response.json()["detail"]
    org.refresh_from_db()
    assert org.notes == ""


@pytest.mark.parametrize(
    "path",
    ["/organizations", "/sites", "/contacts", "/assets", "/assets/export.csv", "/audit", "/users"],
)
def test_nul_in_a_query_parameter_is_refused(client, org, path):
    response = client.get(path, q="a\x00b")

    assert response.status_code == 400
    assert "NUL" in response.json()["detail"]


@pytest.mark.parametrize(
    ("path", "param"),
    [
        ("/assets", "site"),
        ("/assets", "owner_team"),
        ("/contacts", "site"),
        ("/audit", "actor"),
    ],
)
def test_id_filter_past_64_bits_is_not_a_server_error(client, org, path, param):
    response = client.get(path, **{param: str(HUGE)})

    assert response.status_code in (200, 400)
    if response.status_code == 200:
        assert response.json()["items"] == []


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/teams", {"name": "Ops", "members": [HUGE]}),
        ("POST", "/users", {"email": "n@x.example", "role": "agent", "limited_to": [HUGE]}),
        ("POST", "/users", {"email": "n@x.example", "role": "agent", "limited_to": [-(2**63) - 1]}),
    ],
)
def test_id_past_64_bits_in_a_body_is_refused(client, method, path, body):
    response = client.request(method, path, body)

    assert response.status_code == 400
    assert "out of range" in response.json()["detail"]


def test_id_past_64_bits_in_a_team_patch_is_refused(client):
    team = TeamFactory.create()

    response = client.patch(f"/teams/{team.pk}", {"members": [HUGE]})

    assert response.status_code == 400


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(name=st.text(alphabet=st.characters(codec=None), max_size=300))
def test_any_site_name_is_created_or_refused_never_an_error(client, org, name):
    raw = json.dumps({"organization": org.pk, "name": name, "address": name, "notes": name})

    response = client.post("/sites", raw=raw)

    assert response.status_code in (201, 400, 409, 422), response.content
    assert "detail" in response.json() or response.status_code == 201


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=st.text(max_size=300))
def test_any_search_text_answers_a_page_or_a_refusal(client, org, text):
    for path in ("/organizations", "/sites", "/contacts", "/assets", "/audit", "/users"):
        response = client.get(path, q=text)

        assert response.status_code in (200, 400), (path, response.content)
