import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from buttress.api.tests.conftest import API
from buttress.assets.models import Asset
from buttress.testing.factories import AssetFactory

pytestmark = pytest.mark.django_db


def test_import_csv_body(as_agent, org):
    response = as_agent.post(
        "/assets/import",
        raw="name,kind\nweb,server\ndb,database\n",
        content_type="text/csv",
        params={"organization": org.pk},
    )

    assert response.status_code == 200, response.content
    assert response.json() == {
        "ok": True,
        "dry_run": False,
        "created": 2,
        "updated": 0,
        "errors": [],
    }
    assert Asset.objects.filter(organization=org).count() == 2


def test_import_multipart_file(as_agent, org):
    upload = SimpleUploadedFile("assets.csv", b"name\nweb\n", content_type="text/csv")

    response = as_agent.client.post(
        f"{API}/assets/import?organization={org.pk}",
        {"file": upload},
        headers={"Authorization": f"Bearer {as_agent.token}"},
    )

    assert response.status_code == 200, response.content
    assert response.json()["created"] == 1


def test_dry_run_with_errors_answers_200_and_imports_nothing(as_agent, org):
    response = as_agent.post(
        "/assets/import",
        raw="name,kind\nweb,toaster\n",
        content_type="text/csv",
        params={"organization": org.pk, "dry_run": "true"},
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["ok"], body["dry_run"]) == (False, True)
    assert body["errors"][0]["line"] == 2
    assert not Asset.objects.exists()


def test_real_run_with_errors_answers_400_with_the_report(as_agent, org):
    response = as_agent.post(
        "/assets/import",
        raw="name,kind\nweb,server\n,server\n",
        content_type="text/csv",
        params={"organization": org.pk},
    )

    assert response.status_code == 400
    assert response.json()["errors"] == [{"line": 3, "message": "The name is missing."}]
    assert not Asset.objects.exists()


def test_import_needs_a_csv_body(as_agent, org):
    response = as_agent.post("/assets/import", {"name": "x"}, params={"organization": org.pk})

    assert response.status_code == 400


def test_import_refuses_an_oversized_file(as_agent, org, monkeypatch):
    monkeypatch.setattr("buttress.assets.csvio.MAX_BYTES", 100)

    response = as_agent.post(
        "/assets/import",
        raw="name\n" + "x\n" * 100,
        content_type="text/csv",
        params={"organization": org.pk},
    )

    assert response.status_code == 413


def test_viewer_may_not_import(as_viewer, org):
    response = as_viewer.post(
        "/assets/import", raw="name\nx\n", content_type="text/csv", params={"organization": org.pk}
    )

    assert response.status_code == 403


def test_export_streams_csv_of_the_filtered_assets(as_agent, org, other_org):
    AssetFactory.create(organization=org, name="lap", kind="laptop")
    AssetFactory.create(organization=org, name="srv", kind="server")
    AssetFactory.create(organization=other_org, name="theirs", kind="laptop")

    response = as_agent.client.get(
        f"{API}/assets/export.csv",
        {"organization": org.pk, "kind": "laptop"},
        headers={"Authorization": f"Bearer {as_agent.token}"},
    )

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert lines[0].startswith("name,kind,site")
    assert [line.split(",")[0] for line in lines[1:]] == ["lap"]


def test_export_then_import_through_the_api_changes_nothing(as_agent, org):
    AssetFactory.create(organization=org, name="a", attributes={"n": 1})
    AssetFactory.create(organization=org, name="b")
    headers = {"Authorization": f"Bearer {as_agent.token}"}
    exported = b"".join(
        as_agent.client.get(
            f"{API}/assets/export.csv", {"organization": org.pk}, headers=headers
        ).streaming_content
    )

    response = as_agent.post(
        "/assets/import", raw=exported, content_type="text/csv", params={"organization": org.pk}
    )

    assert response.json() == {
        "ok": True,
        "dry_run": False,
        "created": 0,
        "updated": 0,
        "errors": [],
    }
