"""Authentication, errors and the documentation page, common to every endpoint."""

import re
from datetime import timedelta

import pytest
from django.db import IntegrityError
from django.test import Client

from buttress.accounts import services as accounts
from buttress.api.tests.conftest import API, ApiClient, api_as
from buttress.assets import services as asset_services
from buttress.lib.timeutil import now
from buttress.testing.factories import PASSWORD, AssetFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_missing_credentials_answer_401_with_a_challenge(org):
    response = Client().get(f"{API}/assets")

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert "detail" in response.json()


@pytest.mark.parametrize(
    "header", ["Bearer nonsense", "Bearer btr_0000_secret", "Basic dXNlcjpwYXNz", "Bearer "]
)
def test_bad_authorization_header_answers_401(header):
    response = Client().get(f"{API}/assets", headers={"Authorization": header})

    assert response.status_code == 401
    assert "error=" in response["WWW-Authenticate"]


def test_expired_token_answers_401(agent):
    issued = accounts.create_token(
        agent, actor=agent, name="short", expires_at=now() + timedelta(minutes=1)
    )
    issued.token.expires_at = now() - timedelta(seconds=1)
    issued.token.save()

    response = ApiClient(Client(), issued.secret).get("/assets")

    assert response.status_code == 401
    assert 'error="invalid_token"' in response["WWW-Authenticate"]


def test_revoked_token_answers_401(agent):
    issued = accounts.create_token(agent, actor=agent, name="old")
    accounts.revoke_token(issued.token, actor=agent)

    assert ApiClient(Client(), issued.secret).get("/assets").status_code == 401


def test_token_of_a_deactivated_user_answers_401(agent):
    client = api_as(agent)
    agent.is_active = False
    agent.save()

    assert client.get("/assets").status_code == 401


def test_invalid_token_does_not_fall_back_to_the_session(agent):
    client = Client()
    client.force_login(agent)

    response = client.get(f"{API}/assets", headers={"Authorization": "Bearer wrong"})

    assert response.status_code == 401


def test_read_token_may_read_but_not_write(agent, org):
    client = api_as(agent, scope="read")
    asset = AssetFactory.create(organization=org)

    assert client.get(f"/assets/{asset.pk}").status_code == 200
    for response in (
        client.post("/assets", {"organization": org.pk, "name": "x"}),
        client.patch(f"/assets/{asset.pk}", {"name": "y"}),
        client.delete(f"/assets/{asset.pk}"),
    ):
        assert response.status_code == 403
        assert response.json() == {"detail": "This token's scope is read."}


def test_session_may_read_and_write_with_the_csrf_token(agent, org):
    client = Client(enforce_csrf_checks=True)
    client.force_login(agent)

    assert client.get(f"{API}/assets").status_code == 200
    refused = client.post(
        f"{API}/assets", {"organization": org.pk, "name": "x"}, content_type="application/json"
    )
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]

    client.get(f"{API}/docs")  # any page that renders the token sets the cookie
    token = client.cookies["csrftoken"].value
    accepted = client.post(
        f"{API}/assets",
        {"organization": org.pk, "name": "x"},
        content_type="application/json",
        headers={"X-CSRFToken": token},
    )
    assert accepted.status_code == 201, accepted.content


def test_password_sign_in_session_is_accepted(org):
    user = UserFactory.create(role="agent", email="pw@buttress.example")
    client = Client()
    assert client.login(username=user.email, password=PASSWORD)

    assert client.get(f"{API}/organizations").status_code == 200


def test_malformed_json_answers_400(as_agent):
    response = as_agent.post("/assets", raw=b"{not json")

    assert response.status_code == 400
    assert "JSON" in response.json()["detail"]


def test_json_that_is_not_an_object_answers_400(as_agent):
    response = as_agent.post("/assets", raw=b"[1, 2]")

    assert response.status_code == 400


def test_form_body_answers_400(as_agent, org):
    response = as_agent.post(
        "/assets",
        raw=f"organization={org.pk}&name=x",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 400
    assert "application/json" in response.json()["detail"]


def test_wrong_types_answer_422_with_the_fields(as_agent, org):
    response = as_agent.post(
        "/assets", {"organization": "acme", "name": ["x"], "attributes": {"a": {"b": 1}}}
    )

    assert response.status_code == 422
    fields = {error["loc"][2] for error in response.json()["detail"]}
    assert {"organization", "name", "attributes"} <= fields


def test_non_numeric_path_id_answers_422(as_agent):
    assert as_agent.get("/assets/abc").status_code == 422


def test_unknown_id_answers_404(as_agent):
    response = as_agent.get("/assets/999999")

    assert response.status_code == 404
    assert response.json() == {"detail": "Asset not found."}


def test_unknown_organization_answers_404(as_agent):
    response = as_agent.post("/assets", {"organization": 999999, "name": "x"})

    assert response.status_code == 404
    assert response.json() == {"detail": "Organization not found."}


def test_oversized_body_answers_413(as_agent, org, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000

    response = as_agent.post("/assets", {"organization": org.pk, "name": "x" * 2000})

    assert response.status_code == 413


@pytest.mark.parametrize("cursor", ["%%%", "bm90IGpzb24", "eyJ2IjpbMV0sImIiOmZhbHNlfQ"])
def test_bad_cursor_answers_400(as_agent, cursor):
    response = as_agent.get("/assets", cursor=cursor)

    assert response.status_code == 400
    assert "cursor" in response.json()["detail"]


@pytest.mark.parametrize("limit", ["0", "-1", "201"])
def test_out_of_range_limit_answers_400(as_agent, limit):
    response = as_agent.get("/assets", limit=limit)

    assert response.status_code == 400
    assert "limit" in response.json()["detail"]


def test_race_on_a_unique_row_answers_409(as_agent, org, monkeypatch):
    def collide(*args, **kwargs):
        raise IntegrityError("UNIQUE constraint failed")

    monkeypatch.setattr(asset_services, "create_asset", collide)

    response = as_agent.post("/assets", {"organization": org.pk, "name": "x"})

    assert response.status_code == 409


def test_openapi_schema_describes_the_api():
    response = Client().get(f"{API}/openapi.json")

    assert response.status_code == 200
    schema = response.json()
    assert schema["info"]["title"] == "buttress API"
    assert schema["info"]["version"] == "1"
    assert f"{API}/assets" in schema["paths"]


def test_docs_page_loads_nothing_from_another_host():
    response = Client().get(f"{API}/docs")

    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui-bundle.js" in html
    external = re.findall(r"""(?:src|href)=["']((?:https?:)?//[^"']+)""", html)
    assert external == []


def test_docs_static_files_are_served_locally():
    client = Client()
    for name in (
        "api/swagger-ui/swagger-ui-bundle.js",
        "api/swagger-ui/swagger-ui.css",
        "api/docs.js",
    ):
        response = client.get(f"/static/{name}")
        assert response.status_code == 200, name


def test_docs_script_disables_the_online_validator():
    html = Client().get(f"{API}/docs").content.decode()

    assert '"validatorUrl": null' in html
