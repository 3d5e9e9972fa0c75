"""End to end in the system Chromium: an agent records a dependency and sees its impact."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from buttress.accounts.models import User
from buttress.tenancy.models import Organization
from buttress.testing.browser import page, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]
__all__ = ["page"]  # the fixture, used by name


def create_asset(page: Page, base_url: str, *, organization: str, name: str, kind: str) -> None:
    page.goto(base_url + reverse("assets:create"))
    form = page.get_by_role("main").locator("form")
    form.get_by_label("Organisation").select_option(label=organization)
    form.get_by_label(re.compile(r"^Name:?$")).fill(name)
    form.get_by_label("Kind").select_option(label=kind)
    form.get_by_role("button", name="Create asset").click()
    expect(page.get_by_role("heading", level=1, name=name)).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text(f"Asset {name} added.")


def test_agent_relates_two_assets_and_sees_the_impact(
    transactional_db: None, live_server: LiveServer, page: Page, org: Organization, agent: User
) -> None:
    # given an agent signed in through the login page
    base = live_server.url
    sign_in(page, base, agent.email)

    # when they create a database and a website through the asset form
    create_asset(page, base, organization=org.name, name="db-primary", kind="Database")
    create_asset(page, base, organization=org.name, name="shop-web", kind="Website")

    # and, on the website's page, record that it depends on the database
    relations = page.get_by_role("region", name="Relations")
    relation_form = page.get_by_role("form", name="Add a relation")
    relation_form.get_by_label("Relation").select_option(label="depends on")
    relation_form.get_by_label(re.compile(r"^Asset:?$")).select_option(label="db-primary")
    relation_form.get_by_role("button", name="Add relation").click()
    expect(relations.get_by_role("listitem").filter(has_text="depends on")).to_contain_text(
        "db-primary"
    )

    # then the database's page lists the website under what depends on it
    relations.get_by_role("link", name="db-primary").click()
    expect(page.get_by_role("heading", level=1, name="db-primary")).to_be_visible()
    impact = page.get_by_role("region", name="What depends on this?")
    expect(impact.get_by_role("row", name=re.compile("shop-web"))).to_contain_text(
        "depends on db-primary"
    )
    expect(impact.get_by_role("link", name="shop-web")).to_be_visible()
