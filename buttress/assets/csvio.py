"""Assets as CSV: export a list, import (upsert by name) a whole file or nothing of it.

Columns: name, kind, site, criticality, status, owner_team, tags, description, the relation
columns depends_on / runs_on / connects_to, and ``attr:<key>`` for free attributes. A column
left out of the file leaves that field of existing assets alone; a column that is present is
authoritative (an empty ``tags`` cell clears the tags, an empty ``depends_on`` removes the
asset's "depends on" relations). Empty kind / criticality / status cells keep the current value
(or the default, for a new asset).

Attribute cells hold text as is; numbers, true/false and null are written as JSON (``42``,
``true``), and text that would read as JSON is quoted (``"42"``), so an export imports back to
exactly the same values.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Prefetch
from django.db.models.functions import Lower

from buttress.accounts.models import Team
from buttress.assets import services
from buttress.assets.models import (
    Asset,
    AssetQuerySet,
    AssetRelation,
    Criticality,
    Kind,
    Lifecycle,
    RelationKind,
)
from buttress.audit import services as audit
from buttress.audit.models import AuditEntry
from buttress.tenancy.models import Organization, Site

if TYPE_CHECKING:
    from buttress.accounts.models import User

MAX_ROWS = 50_000
MAX_BYTES = 20 * 1024 * 1024
MAX_NAME_LENGTH = 200
LIST_SEPARATOR = ";"
ATTR_PREFIX = "attr:"
FIELD_COLUMNS = (
    "name",
    "kind",
    "site",
    "criticality",
    "status",
    "owner_team",
    "tags",
    "description",
)
RELATION_COLUMNS = tuple(RelationKind.values)
COLUMNS = FIELD_COLUMNS + RELATION_COLUMNS
CHOICES: dict[str, list[str]] = {
    "kind": list(Kind.values),
    "criticality": list(Criticality.values),
    "status": list(Lifecycle.values),
}
# Rows written per chunk of the export stream, and asset names looked up per query on import.
EXPORT_CHUNK = 500
LOOKUP_CHUNK = 500


@dataclass(frozen=True)
class RowError:
    line: int
    message: str


@dataclass
class ImportReport:
    ok: bool
    dry_run: bool
    created: int = 0
    updated: int = 0
    errors: list[RowError] = field(default_factory=list)


# --- attribute cells -------------------------------------------------------------------------


def _reads_as_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def format_attribute(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False) if _reads_as_json(value) else value
    return json.dumps(value, ensure_ascii=False)


def parse_attribute(cell: str) -> Any:
    try:
        value = json.loads(cell)
    except ValueError:
        return cell
    # An object or a list is not an attribute value; keep what was typed. So is a string whose
    # escapes decode to a NUL or a lone surrogate, which no database stores.
    if isinstance(value, dict | list):
        return cell
    if isinstance(value, str) and ("\x00" in value or not _encodable(value)):
        return cell
    return value


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# --- export ----------------------------------------------------------------------------------


def export_assets(queryset: AssetQuerySet) -> Iterator[str]:
    """The assets as CSV text, in chunks (header first), in name order."""
    keys: set[str] = set()
    for attributes in queryset.values_list("attributes", flat=True).iterator(chunk_size=2000):
        if isinstance(attributes, dict):
            keys.update(str(k) for k in attributes)
    attr_keys = sorted(keys)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*COLUMNS, *(f"{ATTR_PREFIX}{k}" for k in attr_keys)])
    rows = (
        queryset.select_related("site", "owner_team")
        .prefetch_related(
            "tags",
            Prefetch(
                "outgoing",
                queryset=AssetRelation.objects.select_related("target").order_by("target__name"),
            ),
        )
        .order_by("name", "id")
    )
    for count, asset in enumerate(rows.iterator(chunk_size=EXPORT_CHUNK), start=1):
        related: dict[str, list[str]] = {kind: [] for kind in RELATION_COLUMNS}
        for relation in asset.outgoing.all():
            related[relation.kind].append(relation.target.name)
        attributes = asset.attributes if isinstance(asset.attributes, dict) else {}
        writer.writerow(
            [
                asset.name,
                asset.kind,
                asset.site.name if asset.site else "",
                asset.criticality,
                asset.status,
                asset.owner_team.name if asset.owner_team else "",
                LIST_SEPARATOR.join(sorted(tag.name for tag in asset.tags.all())),
                asset.description,
                *(LIST_SEPARATOR.join(related[kind]) for kind in RELATION_COLUMNS),
                *(format_attribute(attributes[k]) if k in attributes else "" for k in attr_keys),
            ]
        )
        if count % EXPORT_CHUNK == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


# --- import: reading -------------------------------------------------------------------------


@dataclass
class _Row:
    line: int
    cells: dict[str, str]
    name: str = ""
    fields: dict[str, Any] = field(default_factory=dict)
    attributes: dict[str, str] = field(default_factory=dict)
    relations: dict[str, list[str]] = field(default_factory=dict)


class _FileError(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.error = RowError(line, message)


def _decode(data: str | bytes) -> str:
    if isinstance(data, str):
        text = data.removeprefix("\ufeff")
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            raise _FileError(line, "The file is not UTF-8 text; save it as CSV (UTF-8).") from exc
    # A NUL is never in a spreadsheet's text (often it is UTF-16 saved by mistake), and
    # PostgreSQL cannot store one.
    if (at := text.find("\x00")) != -1:
        line = text.count("\n", 0, at) + 1
        raise _FileError(line, "The file contains a NUL character; save it as CSV (UTF-8).")
    return text


def _split(cell: str) -> list[str]:
    return [part.strip() for part in cell.split(LIST_SEPARATOR) if part.strip()]


def _read(text: str) -> tuple[list[str], list[_Row]]:
    """The header and the non-blank rows, each with the line its record starts on."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise _FileError(reader.line_num or 1, f"This is not a readable CSV file: {exc}.") from exc
    if header is None or not any(h.strip() for h in header):
        raise _FileError(1, "The file is empty; the first line must name the columns.")
    columns = [h.strip().lower() for h in header]
    _check_header(columns)
    rows: list[_Row] = []
    previous_end = reader.line_num
    while True:
        try:
            record = next(reader, None)
        except csv.Error as exc:
            raise _FileError(previous_end + 1, f"This line cannot be read as CSV: {exc}.") from exc
        if record is None:
            break
        start, previous_end = previous_end + 1, reader.line_num
        if not any(cell.strip() for cell in record):
            continue
        if len(rows) >= MAX_ROWS:
            raise _FileError(
                start, f"The file has more than {MAX_ROWS:,} rows; split it into smaller files."
            )
        if len(record) > len(columns):
            rows.append(_Row(line=start, cells={}))
            rows[-1].fields["__error__"] = (
                f"This row has {len(record)} fields but the header names {len(columns)} columns."
            )
            continue
        padded = record + [""] * (len(columns) - len(record))
        rows.append(_Row(line=start, cells=dict(zip(columns, padded, strict=True))))
    return columns, rows


def _check_header(columns: list[str]) -> None:
    if "name" not in columns:
        raise _FileError(
            1,
            "The first line must name the columns and include 'name'; "
            f"known columns: {', '.join(COLUMNS)}, attr:<key>.",
        )
    seen: set[str] = set()
    for column in columns:
        if column in seen:
            raise _FileError(1, f"The column {column!r} appears twice.")
        seen.add(column)
        if column.startswith(ATTR_PREFIX):
            if not column[len(ATTR_PREFIX) :].strip():
                raise _FileError(1, "An attr: column needs a key, e.g. attr:serial.")
        elif column not in COLUMNS:
            raise _FileError(
                1,
                f"Unknown column {column!r}; known columns: {', '.join(COLUMNS)}, attr:<key>.",
            )


# --- import: checking ------------------------------------------------------------------------


@dataclass
class _Lookups:
    sites: dict[str, Site]
    teams: dict[str, Team]
    existing: dict[str, Asset]  # lower(name) -> asset, for names in the file
    targets: dict[str, Asset]  # lower(name) -> asset, for relation targets not in the file
    tags: dict[int, list[str]]  # existing asset id -> tag names
    relations: dict[int, dict[str, set[int]]]  # existing source id -> kind -> target ids


def _chunks(values: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(values), LOOKUP_CHUNK):
        yield values[start : start + LOOKUP_CHUNK]


def _assets_named(organization: Organization, names: Iterable[str]) -> dict[str, Asset]:
    found: dict[str, Asset] = {}
    for chunk in _chunks(sorted(set(names))):
        query = Asset.objects.for_org(organization).annotate(lname=Lower("name"))
        for asset in query.filter(lname__in=chunk).select_related("site", "owner_team"):
            found[asset.name.lower()] = asset
    return found


def _lookups(organization: Organization, rows: list[_Row], columns: list[str]) -> _Lookups:
    names = {row.cells.get("name", "").strip().lower() for row in rows} - {""}
    targets: set[str] = set()
    for row in rows:
        for kind in RELATION_COLUMNS:
            targets.update(n.lower() for n in _split(row.cells.get(kind, "")))
    existing = _assets_named(organization, names)
    ids = [asset.pk for asset in existing.values()]
    tags: dict[int, list[str]] = {pk: [] for pk in ids}
    relations: dict[int, dict[str, set[int]]] = {pk: {} for pk in ids}
    for start in range(0, len(ids), LOOKUP_CHUNK):
        chunk = ids[start : start + LOOKUP_CHUNK]
        through = Asset.tags.through.objects.filter(asset_id__in=chunk).select_related("tag")
        for link in through:
            tags[link.asset_id].append(link.tag.name)
        edges = AssetRelation.objects.filter(source_id__in=chunk).values_list(
            "source_id", "kind", "target_id"
        )
        for source_id, kind, target_id in edges:
            relations[source_id].setdefault(kind, set()).add(target_id)
    return _Lookups(
        sites={s.name.lower(): s for s in Site.objects.for_org(organization)}
        if "site" in columns
        else {},
        teams={t.name.lower(): t for t in Team.objects.all()} if "owner_team" in columns else {},
        existing=existing,
        targets=_assets_named(organization, targets - names),
        tags=tags,
        relations=relations,
    )


def _known(names: Iterable[str], limit: int = 10) -> str:
    listed = sorted(names)
    if not listed:
        return "none"
    more = f" (and {len(listed) - limit} more)" if len(listed) > limit else ""
    return ", ".join(listed[:limit]) + more


def _check_row(row: _Row, columns: list[str], lookups: _Lookups) -> list[str]:
    """Fill ``row.fields`` / ``attributes`` / ``relations`` from its cells; the problems."""
    problems: list[str] = []
    cells = row.cells
    row.name = cells.get("name", "").strip()
    if not row.name:
        problems.append("The name is missing.")
    elif len(row.name) > MAX_NAME_LENGTH:
        problems.append(f"The name is longer than {MAX_NAME_LENGTH} characters.")
    for column, allowed in CHOICES.items():
        value = cells.get(column, "").strip().lower()
        if column in columns and value:
            if value in allowed:
                row.fields[column] = value
            else:
                problems.append(
                    f"Unknown {column} {cells[column].strip()!r}; use one of {', '.join(allowed)}."
                )
    if "site" in columns:
        site_name = cells["site"].strip()
        row.fields["site"] = lookups.sites.get(site_name.lower()) if site_name else None
        if site_name and row.fields["site"] is None:
            problems.append(
                f"Unknown site {site_name!r}; this organisation's sites: "
                f"{_known(s.name for s in lookups.sites.values())}."
            )
    if "owner_team" in columns:
        team_name = cells["owner_team"].strip()
        row.fields["owner_team"] = lookups.teams.get(team_name.lower()) if team_name else None
        if team_name and row.fields["owner_team"] is None:
            problems.append(
                f"Unknown team {team_name!r}; teams: "
                f"{_known(t.name for t in lookups.teams.values())}."
            )
    if "tags" in columns:
        try:
            row.fields["tags"] = services.normalise_tags(_split(cells["tags"]))
        except ValidationError as exc:
            problems.extend(exc.messages)
    if "description" in columns:
        row.fields["description"] = cells["description"]
    for column in columns:
        if column.startswith(ATTR_PREFIX):
            row.attributes[column[len(ATTR_PREFIX) :].strip()] = cells[column]
    for kind in RELATION_COLUMNS:
        if kind in columns:
            row.relations[kind] = _split(cells[kind])
    return problems


def _check_relations(row: _Row, in_file: set[str], lookups: _Lookups) -> list[str]:
    problems = []
    for kind, targets in row.relations.items():
        for target in targets:
            lowered = target.lower()
            if lowered == row.name.lower():
                problems.append(f"{row.name!r} cannot have {kind} itself.")
            elif lowered not in in_file and lowered not in lookups.targets:
                problems.append(
                    f"{kind} names {target!r}, which is neither an asset of this organisation "
                    "nor a row of this file."
                )
    return problems


# --- import: planning and applying -----------------------------------------------------------


def _attributes_after(current: dict[str, Any], cells: dict[str, str]) -> dict[str, Any]:
    result = dict(current)
    for key, cell in cells.items():
        if cell.strip() == "":
            result.pop(key, None)
        else:
            result[key] = parse_attribute(cell)
    return result


def _changes(row: _Row, asset: Asset, lookups: _Lookups) -> dict[str, Any]:
    """The service-level changes ``row`` makes to the existing ``asset``."""
    changes: dict[str, Any] = {}
    if asset.name != row.name:
        changes["name"] = row.name
    for name, value in row.fields.items():
        if name == "tags":
            if sorted(value) != sorted(lookups.tags.get(asset.pk, [])):
                changes["tags"] = value
        elif name in ("site", "owner_team"):
            current_id = getattr(asset, f"{name}_id")
            if (value.pk if value is not None else None) != current_id:
                changes[name] = value
        elif getattr(asset, name) != value:
            changes[name] = value
    if row.attributes:
        current = asset.attributes if isinstance(asset.attributes, dict) else {}
        after = _attributes_after(current, row.attributes)
        if after != current:
            changes["attributes"] = after
    return changes


def _new_asset(row: _Row) -> services.NewAsset:
    fields = {k: v for k, v in row.fields.items() if v is not None}
    return services.NewAsset(
        name=row.name, attributes=_attributes_after({}, row.attributes), **fields
    )


def _relation_plan(
    row: _Row, ids: dict[str, int], current: dict[str, set[int]]
) -> dict[str, tuple[set[int], set[int]]]:
    """kind -> (target ids to add, target ids to remove)."""
    plan = {}
    for kind, targets in row.relations.items():
        wanted = {ids[t.lower()] for t in targets if t.lower() in ids}
        have = current.get(kind, set())
        if wanted != have:
            plan[kind] = (wanted - have, have - wanted)
    return plan


def import_assets(
    organization: Organization, *, actor: User | None, data: str | bytes, dry_run: bool
) -> ImportReport:
    """Check every row of ``data``; unless one is wrong (or ``dry_run``), apply them all.

    Rows are matched to assets by name, case-insensitively. Nothing is written when any row
    is wrong: the report then lists every problem with its line in the file (line 1 is the
    header; a quoted cell spanning lines counts each of its lines).
    """
    report = ImportReport(ok=False, dry_run=dry_run)
    try:
        columns, rows = _read(_decode(data))
    except _FileError as exc:
        report.errors.append(exc.error)
        return report
    lookups = _lookups(organization, rows, columns)
    first_line: dict[str, int] = {}
    for row in rows:
        problems = [row.fields.pop("__error__")] if "__error__" in row.fields else []
        if not problems:
            problems = _check_row(row, columns, lookups)
            lowered = row.name.lower()
            if lowered and lowered in first_line:
                problems.append(
                    f"The name {row.name!r} is already used on line {first_line[lowered]}."
                )
            elif lowered:
                first_line[lowered] = row.line
        report.errors.extend(RowError(row.line, message) for message in problems)
    in_file = set(first_line)
    for row in rows:
        if row.relations and row.name:
            problems = _check_relations(row, in_file, lookups)
            report.errors.extend(RowError(row.line, message) for message in problems)
    if report.errors:
        report.errors.sort(key=lambda error: error.line)
        return report
    if not rows:
        report.errors.append(RowError(2, "The file has a header but no rows."))
        return report

    for row in rows:
        if row.name.lower() not in lookups.existing:
            try:
                services.build_asset(organization, _new_asset(row))
            except ValidationError as exc:
                report.errors.extend(RowError(row.line, message) for message in exc.messages)
    if report.errors:
        return report

    known_ids = {name: asset.pk for name, asset in lookups.targets.items()}
    known_ids.update({name: asset.pk for name, asset in lookups.existing.items()})
    plans: list[tuple[_Row, Asset | None, dict[str, Any]]] = []
    for row in rows:
        asset = lookups.existing.get(row.name.lower())
        if asset is None:
            report.created += 1
            plans.append((row, None, {}))
            continue
        changes = _changes(row, asset, lookups)
        relation_plan = _relation_plan(row, known_ids, lookups.relations.get(asset.pk, {}))
        if changes or relation_plan:
            report.updated += 1
        plans.append((row, asset, changes))
    report.ok = True
    if dry_run:
        return report
    try:
        _apply(organization, actor=actor, plans=plans, lookups=lookups, report=report)
    except _FileError as exc:
        report.ok = False
        report.created = report.updated = 0
        report.errors.append(exc.error)
    return report


@transaction.atomic
def _apply(
    organization: Organization,
    *,
    actor: User | None,
    plans: list[tuple[_Row, Asset | None, dict[str, Any]]],
    lookups: _Lookups,
    report: ImportReport,
) -> None:
    by_name: dict[str, Asset] = dict(lookups.targets)
    specs = [_new_asset(row) for row, asset, _ in plans if asset is None]
    for asset in services.bulk_create_assets(organization, actor=actor, assets=specs):
        by_name[asset.name.lower()] = asset
    for row, existing, changes in plans:
        if existing is None:
            continue
        asset = existing
        if changes:
            try:
                asset = services.update_asset(existing, actor=actor, **changes)
            except ValidationError as exc:
                # The checks above mirror the model's; this is a rule they missed. Leaving the
                # atomic block by this exception undoes every row.
                raise _FileError(row.line, "; ".join(exc.messages)) from exc
        by_name[asset.name.lower()] = asset
    ids = {name: asset.pk for name, asset in by_name.items()}
    by_id = {asset.pk: asset for asset in by_name.values()}
    added: list[tuple[Asset, str, Asset]] = []
    for row, existing, _ in plans:
        source = by_name[row.name.lower()]
        current = lookups.relations.get(existing.pk, {}) if existing is not None else {}
        for kind, (add, remove) in _relation_plan(row, ids, current).items():
            added.extend((source, kind, by_id[target_id]) for target_id in sorted(add))
            if remove:
                stale = AssetRelation.objects.filter(
                    source=source, kind=kind, target_id__in=remove
                ).select_related("source__organization", "target")
                for relation in stale:
                    services.delete_relation(relation, actor=actor)
    services.bulk_relate_assets(organization, actor=actor, relations=added)
    audit.record(
        organization,
        actor=actor,
        action=AuditEntry.Action.IMPORT,
        organization=organization,
        note=f"CSV import: {report.created} assets created, {report.updated} updated",
    )
