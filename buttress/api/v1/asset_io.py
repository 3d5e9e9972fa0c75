"""/assets/import and /assets/export.csv: the CMDB as a spreadsheet."""

from __future__ import annotations

from django.http import HttpRequest, StreamingHttpResponse
from ninja import Query, Router, Schema
from ninja.errors import HttpError
from ninja.responses import Status
from pydantic import Field

from buttress.api.v1.assets import AssetFilters, filtered_assets
from buttress.api.v1.base import ERRORS, current_user, organization_param, require_write
from buttress.assets import csvio
from buttress.tenancy.access import Capability

router = Router(tags=["assets"])

CSV_TYPES = frozenset({"text/csv", "application/csv", "text/plain", "application/octet-stream"})
CSV_COLUMNS_HELP = (
    "Columns: name (required), kind, site (name), criticality, status, owner_team (name), "
    "tags (separated by ;), description, depends_on / runs_on / connects_to (asset names "
    "separated by ;) and attr:<key> for free attributes. Rows are matched to assets by name."
)


class RowErrorOut(Schema):
    line: int = Field(description="The line of the file (the header is line 1).")
    message: str


class ImportReportOut(Schema):
    ok: bool
    dry_run: bool
    created: int
    updated: int
    errors: list[RowErrorOut]


class ImportParams(Schema):
    organization: int
    dry_run: bool = Field(False, description="Check the file and report; change nothing.")


def _uploaded_csv(request: HttpRequest) -> bytes:
    limit = csvio.MAX_BYTES
    too_big = HttpError(413, f"The file is larger than {limit // (1024 * 1024)} MiB.")
    if request.content_type == "multipart/form-data":
        upload = request.FILES.get("file")
        if upload is None:
            raise HttpError(400, "Send the CSV in a multipart field named 'file'.")
        if upload.size is not None and upload.size > limit:
            raise too_big
        return bytes(upload.read())
    if request.content_type not in CSV_TYPES:
        raise HttpError(
            400, "Send the CSV as the body (Content-Type: text/csv) or as a multipart 'file'."
        )
    # Read the stream ourselves: the whole-body limit for JSON requests is smaller than a CMDB.
    data = request.read(limit + 1)
    if len(data) > limit:
        raise too_big
    return data


@router.post(
    "/assets/import",
    response={200: ImportReportOut, **ERRORS, 400: ImportReportOut},
    description=(
        "Import a CSV file: every row is checked first, and if any is wrong nothing is "
        "imported and the report lists every problem with its line. A dry run answers 200 "
        "with ok=false when there are problems; a real run answers 400 with the same report. "
        + CSV_COLUMNS_HELP
    ),
    openapi_extra={
        "requestBody": {
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                        "required": ["file"],
                    }
                },
            },
        }
    },
)
def import_assets(request: HttpRequest, params: Query[ImportParams]) -> Status[csvio.ImportReport]:
    require_write(request)
    user = current_user(request)
    org = organization_param(request, params.organization, capability=Capability.EDIT_CMDB)
    report = csvio.import_assets(
        org, actor=user, data=_uploaded_csv(request), dry_run=params.dry_run
    )
    status = 400 if not report.ok and not report.dry_run else 200
    return Status(status, report)


@router.get(
    "/assets/export.csv",
    response=ERRORS,
    description="The assets matching the same filters as GET /assets, as CSV. " + CSV_COLUMNS_HELP,
    openapi_extra={
        "responses": {
            200: {
                "description": "CSV, header first",
                "content": {"text/csv": {"schema": {"type": "string"}}},
            }
        }
    },
)
def export_assets(request: HttpRequest, filters: Query[AssetFilters]) -> StreamingHttpResponse:
    queryset = filtered_assets(request, filters)
    response = StreamingHttpResponse(
        csvio.export_assets(queryset), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = 'attachment; filename="assets.csv"'
    return response
