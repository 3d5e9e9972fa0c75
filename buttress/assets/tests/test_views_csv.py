from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from buttress.accounts.models import Role
from buttress.assets import services
from buttress.assets.models import Asset
from buttress.testing.factories import AssetFactory, UserFactory

pytestmark = pytest.mark.django_db


def _upload(text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile("assets.csv", text.encode(), content_type="text/csv")


def _export(response) -> list[dict[str, str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


def test_export_streams_the_filtered_assets(client: Client, agent, org, other_org):
    services.create_asset(org, actor=None, name="web01", kind="server", tags=["prod"])
    services.create_asset(org, actor=None, name="db01", kind="database")
    AssetFactory.create(organization=other_org, name="web99")
    client.force_login(agent)

    response = client.get(reverse("assets:export"), {"org": org.pk, "kind": "server"})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    assert [(row["name"], row["tags"]) for row in _export(response)] == [("web01", "prod")]


def test_export_never_includes_another_organisations_assets(client: Client, org, other_org):
    AssetFactory.create(organization=org, name="mine")
    AssetFactory.create(organization=other_org, name="theirs")
    outsider = UserFactory.create(role=Role.ORG_ADMIN, organization=org)
    client.force_login(outsider)

    response = client.get(reverse("assets:export"), {"org": other_org.pk})

    assert [row["name"] for row in _export(response)] == ["mine"]


def test_export_link_carries_the_list_filters(client: Client, agent, org, other_org):
    client.force_login(agent)

    response = client.get(reverse("assets:list"), {"org": org.pk, "kind": "server"})

    assert f"{reverse('assets:export')}?org={org.pk}&amp;kind=server" in response.text


def test_import_dry_run_lists_every_bad_row_by_line(client: Client, agent, org):
    client.force_login(agent)
    text = "name,kind,criticality\nweb01,server,high\nweb02,spaceship,high\n,server,low\n"

    response = client.post(
        reverse("assets:import"), {"organization": org.pk, "file": _upload(text)}
    )

    assert response.status_code == 200
    report = response.context["report"]
    assert not report.ok
    assert [error.line for error in report.errors] == [3, 4]
    assert "Line" in response.text
    assert "confirm" not in response.context
    assert not Asset.objects.exists()


def test_import_checks_then_imports_on_confirmation(client: Client, agent, org):
    AssetFactory.create(organization=org, name="web01", kind="server")
    client.force_login(agent)
    text = "name,kind,tags\nweb01,database,prod\nweb02,server,\n"

    checked = client.post(reverse("assets:import"), {"organization": org.pk, "file": _upload(text)})
    report = checked.context["report"]
    assert (report.ok, report.created, report.updated) == (True, 1, 1)
    assert Asset.objects.count() == 1

    token = checked.context["confirm"].initial["token"]
    done = client.post(reverse("assets:import"), {"token": token})

    assert done.status_code == 302
    assert sorted(Asset.objects.values_list("name", "kind")) == [
        ("web01", "database"),
        ("web02", "server"),
    ]


def test_tampered_confirmation_imports_nothing(client: Client, agent, org):
    client.force_login(agent)

    response = client.post(reverse("assets:import"), {"token": "forged:token"}, follow=True)

    assert "expired" in response.text
    assert not Asset.objects.exists()


def test_confirmation_is_bound_to_the_user_who_checked(client: Client, agent, admin_user, org):
    client.force_login(agent)
    checked = client.post(
        reverse("assets:import"), {"organization": org.pk, "file": _upload("name\nweb01\n")}
    )
    token = checked.context["confirm"].initial["token"]

    client.force_login(admin_user)
    client.post(reverse("assets:import"), {"token": token})

    assert not Asset.objects.exists()


def test_import_into_an_invisible_organisation_is_a_form_error(client: Client, org, other_org):
    limited = UserFactory.create(role=Role.AGENT)
    limited.limited_to.add(org)
    client.force_login(limited)

    response = client.post(
        reverse("assets:import"), {"organization": other_org.pk, "file": _upload("name\nx\n")}
    )

    assert "organization" in response.context["form"].errors
    assert not Asset.objects.exists()


def test_non_utf8_file_is_reported_not_a_crash(client: Client, agent, org):
    client.force_login(agent)
    upload = SimpleUploadedFile("assets.csv", "name\ncafé\n".encode("latin-1"))

    response = client.post(reverse("assets:import"), {"organization": org.pk, "file": upload})

    assert response.status_code == 200
    assert not response.context["report"].ok


def test_viewer_may_not_import(client: Client, viewer, org):
    client.force_login(viewer)

    assert client.get(reverse("assets:import")).status_code == 403
