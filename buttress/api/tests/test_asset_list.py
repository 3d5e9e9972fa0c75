"""The asset list writes its items without the response schema; they must still match it."""

import pytest

from buttress.assets import services
from buttress.testing.factories import SiteFactory, TeamFactory

pytestmark = pytest.mark.django_db


def test_list_items_are_what_the_asset_endpoint_returns(as_agent, agent, org):
    site = SiteFactory.create(organization=org)
    team = TeamFactory.create()
    services.create_asset(
        org,
        actor=agent,
        name="db01",
        site=site,
        owner_team=team,
        description="primary",
        tags=["sql", "prod"],
        attributes={"cpu": 4, "ssd": True, "ratio": 0.5, "note": None, "os": "Debian"},
    )
    services.create_asset(org, actor=agent, name="bare")

    listed = as_agent.get("/assets", organization=org.pk).json()["items"]

    assert [item["name"] for item in listed] == ["bare", "db01"]
    assert listed == [as_agent.get(f"/assets/{item['id']}").json() for item in listed]
    assert listed[1]["tags"] == ["prod", "sql"]


def test_list_is_documented_with_the_asset_schema(as_agent):
    schema = as_agent.get("/openapi.json").json()

    ok = schema["paths"]["/api/v1/assets"]["get"]["responses"]["200"]
    page = ok["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    items = schema["components"]["schemas"][page]["properties"]["items"]["items"]["$ref"]

    assert items.endswith("/AssetOut")
