"""CSV imports of customers, leads and orders: a dry run first, then the real run, in batches, streamed.

Every row is checked in Python (normalization through `customers.identity`, the same rules as every other
entry point), then a batch of good rows is matched against existing identities and written set-based:

* PostgreSQL: COPY into a temporary staging table, then UPDATE … FROM to match identities and INSERT … SELECT
  to create customers and identities (`_PostgresResolver`);
* SQLite (and anywhere else): batched queries and `bulk_create` (`_PythonResolver`).

A row is written whole or not at all: a row with any bad field is listed in the error report and skipped;
each batch is one transaction, committed together with the job's progress, so a resumed job carries on after
the last committed batch. Importing the same file twice creates nothing new (identities, `external_id`, and
for leads the open `new` lead of the same customer, channel and interest are the keys).
"""

from __future__ import annotations

import codecs
import csv
import io
import queue
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, time
from decimal import Decimal

from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from config import jobs, moments, outbox, spreadsheet
from config.errors import DomainError
from config.models import JobStatus
from config.money import parse_amount
from customers import permissions
from customers.errors import ImportRefused
from customers.identity import CONTACT_IDENTITY_KEYS, normalize
from customers.models import (
    Campaign,
    Channel,
    Customer,
    CustomerIdentity,
    IdentityKind,
    ImportJob,
    ImportKind,
    ImportRowError,
    LifecycleStage,
    Order,
)
from customers.services import MATCH_ORDER, clean_language, queue_full_segment_recompute

BATCH_SIZE = 10000
IMPORT_SOURCE = "import"  # source_system of `external_id` identities from customer files
FIRST_DATA_ROW = 2  # row numbers are spreadsheet rows: the header is row 1

CONTACT_COLUMNS = ("name", "company", "city", *CONTACT_IDENTITY_KEYS)
KIND_COLUMNS = {
    ImportKind.CUSTOMERS: (*CONTACT_COLUMNS, "language", "external_id"),
    ImportKind.LEADS: (*CONTACT_COLUMNS, "source_channel", "campaign", "tags", "interest", "note"),
    ImportKind.ORDERS: (*CONTACT_COLUMNS, "customer_id", "amount", "ordered_at", "channel", "external_id"),
}
REQUIRED_COLUMNS = {
    ImportKind.CUSTOMERS: (),
    ImportKind.LEADS: (),
    ImportKind.ORDERS: ("amount", "ordered_at"),
}
HEADER_ALIASES = {
    "姓名": "name",
    "名字": "name",
    "公司": "company",
    "城市": "city",
    "语言": "language",
    "首选语言": "language",
    "手机": "phone",
    "手机号": "phone",
    "电话": "phone",
    "mobile": "phone",
    "邮箱": "email",
    "电子邮件": "email",
    "e-mail": "email",
    "企业微信": "wecom",
    "微信": "wechat",
    "微信号": "wechat",
    "会员卡": "member_card",
    "会员卡号": "member_card",
    "渠道": "channel",
    "来源渠道": "source_channel",
    "标签": "tags",
    "意向": "interest",
    "备注": "note",
    "金额": "amount",
    "下单时间": "ordered_at",
    "外部编号": "external_id",
    "活动": "campaign",
}
LIMITS = {
    "name": 200,
    "company": 200,
    "city": 100,
    "interest": 300,
    "external_id": 100,
    **dict.fromkeys(CONTACT_IDENTITY_KEYS, 254),
}
_TAG_SPLIT = re.compile(r"[;,|，；、]")


# ---------------------------------------------------------------------------------------------------------------
# Starting and confirming


def _sniff(fileobj) -> tuple[str, int]:
    """(encoding, data rows estimate) in one streamed pass: UTF-8 (BOM or not), else GB18030."""
    fileobj.seek(0)
    head = fileobj.read(3)
    encoding = "utf-8-sig" if head == codecs.BOM_UTF8 else "utf-8"
    fileobj.seek(0)
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    lines = 0
    last = b""
    for chunk in iter(lambda: fileobj.read(1 << 20), b""):
        lines += chunk.count(b"\n")
        last = chunk
        if encoding != "gb18030":
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError:
                encoding = "gb18030"
    if encoding != "gb18030":
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            encoding = "gb18030"
    if last and not last.endswith(b"\n"):
        lines += 1
    fileobj.seek(0)
    return encoding, max(lines - 1, 0)


def _text(fileobj, encoding: str):
    fileobj.seek(0)
    return io.TextIOWrapper(fileobj, encoding=encoding, newline="", errors="strict")


def _header(reader_row: list[str]) -> list[str]:
    out = []
    for name in reader_row:
        key = name.strip().lstrip("\ufeff").strip().lower().replace(" ", "_")
        out.append(HEADER_ALIASES.get(key, key))
    return out


def _check_header(kind: str, columns: list[str]) -> None:
    known = set(KIND_COLUMNS[kind])
    if not known & set(columns):
        raise ImportRefused(
            _("The first row must name the columns, e.g. %(columns)s.") % {"columns": ", ".join(KIND_COLUMNS[kind])},
            field="file",
            code="no_header",
        )
    missing = [c for c in REQUIRED_COLUMNS[kind] if c not in columns]
    if missing:
        raise ImportRefused(
            _("Missing columns: %(columns)s.") % {"columns": ", ".join(missing)}, field="file", code="missing_columns"
        )
    by_id = kind == ImportKind.ORDERS and "customer_id" in columns
    if not by_id and not set(CONTACT_IDENTITY_KEYS) & set(columns) and "name" not in columns:
        raise ImportRefused(
            _("Add a name or contact column (phone, email, wecom, wechat, member_card)."),
            field="file",
            code="missing_columns",
        )


def start_import(*, by, kind: str, upload, dry_run: bool = True) -> ImportJob:
    """Store the file, check its header and queue the job (a dry run unless `dry_run=False`).

    `by=None` is the system (benchmarks, commands); pages and the API always pass the user.
    Raises PermissionDenied and ImportRefused(field "file"|"kind").
    """
    if kind not in ImportKind.values:
        raise ImportRefused(_("Choose customers, leads or orders."), field="kind")
    _require_may_import(by, kind)
    fileobj = upload.file if hasattr(upload, "file") else upload
    encoding, estimate = _sniff(fileobj)
    try:
        first = next(csv.reader(_text_probe(fileobj, encoding)), None)
    except (UnicodeDecodeError, csv.Error):
        first = None
    if not first:
        raise ImportRefused(_("The file is empty or not a CSV file."), field="file", code="empty")
    _check_header(kind, _header(first))
    fileobj.seek(0)
    with transaction.atomic():
        job = ImportJob(
            kind=kind,
            original_name=getattr(upload, "name", "")[:255],
            is_dry_run=dry_run,
            encoding=encoding,
            total_rows=estimate,
            created_by=by if getattr(by, "pk", None) else None,
        )
        job.file.save(f"{kind}.csv", upload, save=False)
        job.save()
        _queue(job)
    return job


def _text_probe(fileobj, encoding: str) -> Iterator[str]:
    """The first line of the file, decoded, without detaching the underlying file."""
    fileobj.seek(0)
    raw = fileobj.readline()
    fileobj.seek(0)
    yield raw.decode(encoding)


@transaction.atomic
def confirm_import(*, job: ImportJob, by) -> ImportJob:
    """Run for real the import a finished dry run previewed. Raises PermissionDenied and ImportRefused."""
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    _require_may_import(by, job.kind)
    if not job.is_dry_run or job.status != JobStatus.DONE:
        raise ImportRefused(_("Only a finished dry run can be imported."), field="job", code="not_ready")
    existing = job.runs.first()
    if existing is not None:
        return existing  # a double click runs it once
    run = ImportJob.objects.create(
        kind=job.kind,
        file=job.file.name,
        original_name=job.original_name,
        is_dry_run=False,
        encoding=job.encoding,
        total_rows=job.total_rows,
        source_job=job,
        created_by=by if getattr(by, "pk", None) else None,
    )
    _queue(run)
    return run


def _queue(job: ImportJob) -> None:
    outbox.enqueue("customers.tasks.run_import", job.pk)


def write_error_report(job: ImportJob, out) -> None:
    writer = spreadsheet.writer(out)
    writer.writerow([_("row"), _("column"), _("reason")])
    for error in job.row_errors.order_by("row_number", "pk").iterator(chunk_size=2000):
        writer.writerow([error.row_number, error.column, error.reason])


# ---------------------------------------------------------------------------------------------------------------
# Parsing rows


@dataclass
class Row:
    row_no: int
    contact: dict  # name, company, city, language, and normalized identities by contact key
    identities: list[tuple[str, str, str]]  # (kind, value, source_system), in match order
    data: dict = field(default_factory=dict)  # kind-specific parsed values
    group: int = 0
    customer_id: int | None = None
    created: bool = False


def _clean(raw: dict, key: str) -> str:
    return spreadsheet.unescape_cell((raw.get(key) or "").strip())  # a Relay export imports back unchanged


def _parse_contact(raw: dict, errors: list, *, kind: str) -> tuple[dict, list[tuple[str, str, str]]]:
    contact = {}
    for key in ("name", "company", "city"):
        value = _clean(raw, key)
        if len(value) > LIMITS[key]:
            errors.append((key, _("At most %(n)s characters.") % {"n": LIMITS[key]}))
        contact[key] = value
    contact["language"] = ""
    if kind == ImportKind.CUSTOMERS:
        try:
            contact["language"] = clean_language(_clean(raw, "language"))
        except DomainError as error:
            errors.append(("language", error.message))
    found = {}
    for key, identity_kind in CONTACT_IDENTITY_KEYS.items():
        value = _clean(raw, key)
        if not value:
            continue
        if len(value) > LIMITS[key]:
            errors.append((key, _("At most %(n)s characters.") % {"n": LIMITS[key]}))
            continue
        normalized = normalize(identity_kind, value)
        if normalized is None:
            reason = _("Not a valid phone number.") if key == "phone" else _("Not a valid email address.")
            errors.append((key, reason))
            continue
        found[identity_kind] = (identity_kind, normalized, "")
        contact[key] = normalized
    if kind == ImportKind.CUSTOMERS:
        external = _clean(raw, "external_id")
        if len(external) > LIMITS["external_id"]:
            errors.append(("external_id", _("At most %(n)s characters.") % {"n": LIMITS["external_id"]}))
        elif external:
            found[IdentityKind.EXTERNAL] = (IdentityKind.EXTERNAL, external, IMPORT_SOURCE)
    identities = [found[k] for k in MATCH_ORDER if k in found]
    if not contact["name"]:
        if identities:
            contact["name"] = identities[0][1]
        elif not (kind == ImportKind.ORDERS and _clean(raw, "customer_id")):
            errors.append(("name", _("Give a name or a contact method.")))
    return contact, identities


def _parse_amount(value: str, errors: list) -> Decimal | None:
    try:
        return parse_amount(value)
    except DomainError as error:
        errors.append((error.field, error.message))
        return None


def _parse_when(value: str, errors: list) -> datetime | None:
    text = value.strip().replace("/", "-")
    parsed = None
    try:
        parsed = parse_datetime(text) or parse_datetime(text.replace(" ", "T"))
        if parsed is None:
            day = parse_date(text)
            parsed = datetime.combine(day, time(12)) if day else None
    except ValueError:
        parsed = None
    if parsed is None:
        errors.append(("ordered_at", _("Use a date like 2026-03-01 or 2026-03-01 14:30.")))
        return None
    refused = moments.refusal(parsed)
    if refused is not None:
        errors.append(("ordered_at", refused[1]))
        return None
    return timezone.make_aware(parsed) if timezone.is_naive(parsed) else parsed


class _Lookups:
    """Reference data read once per job, so parsing needs no database (it runs in a helper thread)."""

    def __init__(self, kind: str):
        self.channels = dict(Channel.objects.values_list("code", "pk"))
        self.campaigns: dict[str, int] = {}
        if kind == ImportKind.LEADS:
            for pk, name in Campaign.objects.order_by("-pk").values_list("pk", "name").iterator():
                self.campaigns.setdefault(name, pk)
                self.campaigns[str(pk)] = pk


def _parse_row(kind: str, row_no: int, raw: dict, lookups: _Lookups) -> tuple[Row | None, list]:
    errors: list[tuple[str, str]] = []
    contact, identities = _parse_contact(raw, errors, kind=kind)
    data: dict = {}
    if kind == ImportKind.LEADS:
        code = _clean(raw, "source_channel") or _clean(raw, "channel")
        if code and code not in lookups.channels:
            errors.append(("source_channel", _("Unknown channel %(code)s.") % {"code": code}))
        data["channel_id"] = lookups.channels.get(code)
        campaign = _clean(raw, "campaign")
        if campaign and campaign not in lookups.campaigns:
            errors.append(("campaign", _("Unknown campaign %(name)s.") % {"name": campaign}))
        data["campaign_id"] = lookups.campaigns.get(campaign)
        tags = [t.strip() for t in _TAG_SPLIT.split(_clean(raw, "tags")) if t.strip()]
        if any(len(t) > 50 for t in tags):
            errors.append(("tags", _("A tag has at most 50 characters.")))
        data["tags"] = sorted(set(tags))
        interest = _clean(raw, "interest")
        if len(interest) > LIMITS["interest"]:
            errors.append(("interest", _("At most %(n)s characters.") % {"n": LIMITS["interest"]}))
        data["interest"] = interest
        data["note"] = _clean(raw, "note")
    elif kind == ImportKind.ORDERS:
        data["amount"] = _parse_amount(_clean(raw, "amount"), errors) if _clean(raw, "amount") else None
        if data["amount"] is None and not any(c == "amount" for c, _r in errors):
            errors.append(("amount", _("This field is required.")))
        data["ordered_at"] = _parse_when(_clean(raw, "ordered_at"), errors) if _clean(raw, "ordered_at") else None
        if data["ordered_at"] is None and not any(c == "ordered_at" for c, _r in errors):
            errors.append(("ordered_at", _("This field is required.")))
        code = _clean(raw, "channel")
        if code and code not in lookups.channels:
            errors.append(("channel", _("Unknown channel %(code)s.") % {"code": code}))
        data["channel_id"] = lookups.channels.get(code)
        external = _clean(raw, "external_id")
        if len(external) > LIMITS["external_id"]:
            errors.append(("external_id", _("At most %(n)s characters.") % {"n": LIMITS["external_id"]}))
        data["external_id"] = external
        customer_id = _clean(raw, "customer_id")
        if customer_id and not customer_id.isdigit():
            errors.append(("customer_id", _("Not a customer id.")))
        data["customer_id"] = int(customer_id) if customer_id.isdigit() else None
    if errors:
        return None, errors
    return Row(row_no, contact, identities, data), []


def _iter_rows(job: ImportJob) -> Iterator[tuple[int, dict]]:
    """(spreadsheet row number, {column: value}) for each non-empty data row, streamed from the file."""
    with job.file.storage.open(job.file.name, "rb") as handle:
        reader = csv.reader(_text(getattr(handle, "file", handle), job.encoding or "utf-8"))
        header = _header(next(reader, []))
        row_no = FIRST_DATA_ROW - 1
        for values in reader:
            row_no += 1
            if not any(v.strip() for v in values):
                continue
            if len(values) != len(header):
                # Never map cells by position: a short or long row is refused whole.
                yield row_no, {_CELL_COUNT: (len(values), len(header))}
                continue
            yield row_no, dict(zip(header, values, strict=True))


def _batches(job: ImportJob) -> Iterator[list[tuple[int, dict]]]:
    batch = []
    for item in _iter_rows(job):
        batch.append(item)
        if len(batch) >= BATCH_SIZE:
            yield batch
            batch = []
    if batch:
        yield batch


@dataclass
class _Parsed:
    size: int  # data rows read, good or bad
    rows: list
    errors: list


def _parse_batches(job: ImportJob, lookups: _Lookups, skip_rows: int) -> Iterator[_Parsed]:
    """Parsed batches; the first `skip_rows` data rows (committed by an earlier attempt) are skipped."""
    read = 0
    first_rows: dict = {}  # what identifies a row → the first row number that had it
    for raw_batch in _batches(job):
        read += len(raw_batch)
        if read <= skip_rows:
            continue
        rows, errors = [], []
        for row_no, raw in raw_batch:
            if _CELL_COUNT in raw:
                cells, columns = raw[_CELL_COUNT]
                reason = _("This row has %(cells)s cells; the first row names %(columns)s columns.") % {
                    "cells": cells,
                    "columns": columns,
                }
                errors.append((row_no, "", reason))
                continue
            row, row_errors = _parse_row(job.kind, row_no, raw, lookups)
            if row is None:
                errors += [(row_no, column, reason) for column, reason in row_errors]
            elif (repeat := _repeat_of_earlier_row(job.kind, row, first_rows)) is not None:
                errors.append((row_no, *repeat))
            else:
                rows.append(row)
        yield _Parsed(len(raw_batch), rows, errors)


_CELL_COUNT = "\x00cells"  # no header can be named this
_COLUMN_OF_IDENTITY = {identity_kind: column for column, identity_kind in CONTACT_IDENTITY_KEYS.items()}


def _repeat_of_earlier_row(kind: str, row: Row, first_rows: dict) -> tuple[str, str] | None:
    """(column, reason) when this row repeats what identifies an earlier row of the file, else None.

    A customer file has one row per customer: a phone, email, id or external id seen before is an error,
    not a merge. An order file's external id (per channel) names one order. Leads may repeat a contact.
    """
    if kind == ImportKind.CUSTOMERS:
        keys = [(_COLUMN_OF_IDENTITY.get(k, "external_id"), (k, v)) for k, v, _source in row.identities]
    elif kind == ImportKind.ORDERS and row.data.get("external_id"):
        keys = [("external_id", (row.data["channel_id"], row.data["external_id"]))]
    else:
        return None
    for column, key in keys:
        first = first_rows.get(key)
        if first is not None:
            return column, _("Row %(row)s has the same %(column)s.") % {"row": first, "column": column}
    for _column, key in keys:
        first_rows[key] = row.row_no
    return None


_DONE = object()


def _prefetched(iterator: Iterator, depth: int = 2) -> Iterator:
    """Run a pure-Python producer in a thread, one or two batches ahead.

    Parsing (Python) then overlaps the database statements of the previous batch (psycopg releases the GIL
    while it waits); the bounded queue keeps at most `depth` batches in memory.
    """
    results: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce():
        try:
            for item in iterator:
                if stop.is_set():
                    return
                results.put(item)
            results.put(_DONE)
        except BaseException as error:  # handed to the consumer, which re-raises it
            results.put(error)

    thread = threading.Thread(target=produce, name="relay-import-parse", daemon=True)
    thread.start()
    try:
        while True:
            item = results.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            try:
                results.get_nowait()
            except queue.Empty:
                thread.join(0.05)


# ---------------------------------------------------------------------------------------------------------------
# Matching and creating customers for a batch


def _group(rows: list[Row], seen: dict) -> None:
    """Rows sharing an identity form one group (the first such row leads): they become one customer."""
    for row in rows:
        leader = next((seen[key] for key in row.identities if key in seen), None)
        row.group = leader if leader is not None else row.row_no
        for key in row.identities:
            seen.setdefault(key, row.group)


def _propagate(rows: list[Row]) -> None:
    """A group with a member matched to an existing customer attaches every member to it."""
    matched: dict[int, int] = {}
    for row in rows:
        if row.customer_id is not None:
            matched[row.group] = min(matched.get(row.group, row.customer_id), row.customer_id)
    for row in rows:
        if row.customer_id is None and row.group in matched:
            row.customer_id = matched[row.group]


class _PythonResolver:
    """Batched queries and bulk_create: the portable path (SQLite)."""

    def match(self, rows: list[Row]) -> None:
        by_kind: dict[tuple[str, str], set[str]] = {}
        for row in rows:
            for kind, value, source in row.identities:
                by_kind.setdefault((kind, source), set()).add(value)
        owners: dict[tuple[str, str, str], int] = {}
        for (kind, source), values in by_kind.items():
            values = sorted(values)
            for start in range(0, len(values), 900):
                for value, cid, merged in CustomerIdentity.objects.filter(
                    kind=kind, source_system=source, value__in=values[start : start + 900]
                ).values_list("value", "customer_id", "customer__merged_into_id"):
                    owners[(kind, value, source)] = merged or cid
        for row in rows:
            row.customer_id = next((owners[key] for key in row.identities if key in owners), None)
        _propagate(rows)

    def create(self, rows: list[Row], *, now, source_channel_id=None) -> None:
        self.match(rows)
        leaders = [row for row in rows if row.customer_id is None and row.group == row.row_no]
        customers = [
            Customer(
                name=r.contact["name"],
                company=r.contact["company"],
                city=r.contact["city"],
                language=r.contact.get("language", ""),
                source_channel_id=r.data.get("channel_id") or source_channel_id,
            )
            for r in leaders
        ]
        Customer.objects.bulk_create(customers, batch_size=500)
        ids = {r.row_no: c.pk for r, c in zip(leaders, customers, strict=True)}
        for row in rows:
            if row.customer_id is None:
                row.customer_id = ids[row.group]
                row.created = row.group == row.row_no
        CustomerIdentity.objects.bulk_create(
            [
                CustomerIdentity(customer_id=row.customer_id, kind=kind, value=value, source_system=source)
                for row in rows
                for kind, value, source in row.identities
            ],
            ignore_conflicts=True,
            batch_size=500,
        )
        self._fill_blanks([row for row in rows if not row.created])

    def _fill_blanks(self, rows: list[Row]) -> None:
        wanted: dict[int, dict] = {}
        for row in rows:
            for key in ("company", "city", "language"):
                if row.contact.get(key):
                    wanted.setdefault(row.customer_id, {}).setdefault(key, row.contact[key])
        if not wanted:
            return
        changed = []
        for customer in Customer.objects.filter(pk__in=list(wanted)).only("pk", "company", "city", "language"):
            dirty = False
            for key, value in wanted[customer.pk].items():
                if not getattr(customer, key):
                    setattr(customer, key, value)
                    dirty = True
            if dirty:
                changed.append(customer)
        Customer.objects.bulk_update(changed, ["company", "city", "language"], batch_size=500)


class _PostgresResolver:
    """COPY into a temporary staging table, then set-based UPDATE … FROM and INSERT … SELECT."""

    TABLE = "relay_import_stage"
    COLUMNS = ("row_no", "grp", "name", "company", "city", "language", "channel_id", *(k for k in MATCH_ORDER))

    def _stage(self, cursor, rows: list[Row]) -> None:
        cursor.execute(f"DROP TABLE IF EXISTS pg_temp.{self.TABLE}")
        identity_columns = ", ".join(f"{k} text" for k in MATCH_ORDER)
        cursor.execute(
            f"CREATE TEMP TABLE {self.TABLE} (row_no integer PRIMARY KEY, grp integer NOT NULL, name text, "
            f"company text, city text, language text, channel_id bigint, {identity_columns}, customer_id bigint, "
            f"is_new boolean NOT NULL DEFAULT false) ON COMMIT DROP"
        )
        with cursor.cursor.copy(f"COPY {self.TABLE} ({', '.join(self.COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                values = {kind: value for kind, value, _source in row.identities}
                copy.write_row(
                    (
                        row.row_no,
                        row.group,
                        row.contact["name"],
                        row.contact["company"],
                        row.contact["city"],
                        row.contact.get("language", ""),
                        row.data.get("channel_id"),
                        *(values.get(k) for k in MATCH_ORDER),
                    )
                )
        cursor.execute(f"ANALYZE {self.TABLE}")
        # Per-row index probes are cheap, but their summed cost estimate trips JIT compilation, which
        # costs more than the whole statement.
        cursor.execute("SET LOCAL jit = off")
        customer_t, identity_t = Customer._meta.db_table, CustomerIdentity._meta.db_table
        # One index probe per staged identity, most specific kind first (like services.find_match). Scalar
        # subqueries pin that plan: a join would let stale statistics on a freshly filled identity table pick
        # a nested loop over the whole stage for every identity.
        probes, params = [], []
        for kind in MATCH_ORDER:
            probes.append(
                f"(SELECT COALESCE(c.merged_into_id, c.id) FROM {identity_t} ci "  # nosec B608
                f"JOIN {customer_t} c ON c.id = ci.customer_id "
                f"WHERE ci.kind = %s AND ci.source_system = %s AND ci.value = s2.{kind} LIMIT 1)"
            )
            params += [kind, IMPORT_SOURCE if kind == IdentityKind.EXTERNAL else ""]
        cursor.execute(
            f"UPDATE {self.TABLE} s SET customer_id = m.cid FROM ("  # nosec B608
            f"SELECT s2.row_no, COALESCE({', '.join(probes)}) AS cid FROM {self.TABLE} s2) m "
            f"WHERE s.row_no = m.row_no AND m.cid IS NOT NULL",
            params,
        )
        cursor.execute(
            f"UPDATE {self.TABLE} s SET customer_id = m.cid FROM (SELECT grp, MIN(customer_id) AS cid "  # nosec B608
            f"FROM {self.TABLE} WHERE customer_id IS NOT NULL GROUP BY grp) m "
            f"WHERE s.grp = m.grp AND s.customer_id IS NULL"
        )

    def _read_back(self, cursor, rows: list[Row]) -> None:
        cursor.execute(f"SELECT row_no, customer_id, is_new FROM {self.TABLE} WHERE customer_id IS NOT NULL")  # nosec B608
        found = {row_no: (cid, is_new) for row_no, cid, is_new in cursor.fetchall()}
        for row in rows:
            if row.row_no in found:
                row.customer_id, is_new = found[row.row_no]
                row.created = is_new and row.group == row.row_no

    def match(self, rows: list[Row]) -> None:
        with connection.cursor() as cursor:
            self._stage(cursor, rows)
            self._read_back(cursor, rows)
            cursor.execute(f"DROP TABLE IF EXISTS pg_temp.{self.TABLE}")

    def create(self, rows: list[Row], *, now, source_channel_id=None) -> None:
        customer_t, identity_t = Customer._meta.db_table, CustomerIdentity._meta.db_table
        with connection.cursor() as cursor:
            self._stage(cursor, rows)
            # Ids come from the customers' own sequence first, so members of a group can point at their leader.
            cursor.execute(
                f"UPDATE {self.TABLE} SET customer_id = nextval(pg_get_serial_sequence(%s, 'id')), is_new = true "  # nosec B608
                f"WHERE customer_id IS NULL AND row_no = grp",
                [customer_t],
            )
            cursor.execute(
                f"UPDATE {self.TABLE} s SET customer_id = l.customer_id FROM {self.TABLE} l "  # nosec B608
                f"WHERE s.customer_id IS NULL AND l.row_no = s.grp"
            )
            cursor.execute(
                f"INSERT INTO {customer_t} (id, name, company, city, language, source_channel_id, lifecycle_stage, "  # nosec B608
                f"rfm_frequency, rfm_monetary, rfm_segment, created_at, updated_at) "
                f"SELECT customer_id, name, company, city, language, COALESCE(channel_id, %s), %s, 0, 0, '', %s, %s "
                f"FROM {self.TABLE} WHERE is_new ORDER BY row_no",
                [source_channel_id, LifecycleStage.AWARENESS, now, now],
            )
            values = ", ".join(
                f"(%s, s.{kind}, %s)" for kind in MATCH_ORDER
            )  # (kind, value, source_system) per identity column
            params: list = []
            for kind in MATCH_ORDER:
                params += [kind, IMPORT_SOURCE if kind == IdentityKind.EXTERNAL else ""]
            cursor.execute(
                f"INSERT INTO {identity_t} (customer_id, kind, value, source_system, is_valid, created_at) "  # nosec B608
                f"SELECT s.customer_id, v.kind, v.value, v.source_system, true, %s "
                f"FROM {self.TABLE} s CROSS JOIN LATERAL (VALUES {values}) AS v(kind, value, source_system) "
                f"WHERE v.value IS NOT NULL ORDER BY s.row_no "
                f"ON CONFLICT (kind, source_system, value) DO NOTHING",
                [now, *params],
            )
            for column in ("company", "city", "language"):
                # Fill blanks of matched customers, never overwrite: the first row naming a value wins.
                cursor.execute(
                    f"UPDATE {customer_t} c SET {column} = s.{column}, updated_at = %s FROM ("  # nosec B608
                    f"SELECT DISTINCT ON (customer_id) customer_id, {column} FROM {self.TABLE} "
                    f"WHERE NOT is_new AND {column} <> '' ORDER BY customer_id, row_no) s "
                    f"WHERE c.id = s.customer_id AND c.{column} = ''",
                    [now],
                )
            self._read_back(cursor, rows)
            cursor.execute(f"DROP TABLE IF EXISTS pg_temp.{self.TABLE}")


def _resolver():
    return _PostgresResolver() if connection.vendor == "postgresql" else _PythonResolver()


# ---------------------------------------------------------------------------------------------------------------
# Kind-specific writes (after customers are resolved)


@dataclass(frozen=True)
class ImportKindRules:
    """Who may import a kind and how its rows are written: the rules of creating that row through the API.

    `apply(rows, dry_run=, seen=, by=)` returns (created, updated); a dry run writes nothing. Customers and
    orders are registered here; leads registers its kind in its AppConfig.ready().
    """

    may_import: Callable[[object], bool]
    apply: Callable[..., tuple[int, int]] | None = None


_kinds: dict[str, ImportKindRules] = {}


def register_kind(kind: str, rules: ImportKindRules) -> None:
    _kinds[kind] = rules


def _require_may_import(by, kind: str) -> None:
    rules = _kinds.get(kind)
    if rules is None:
        raise ImportRefused(_("Choose customers, leads or orders."), field="kind")
    if by is not None and not rules.may_import(by):
        raise PermissionDenied(_("Your role may not create these records, so it may not import them."))


def _order_key(row: Row):
    if row.data["external_id"]:
        return ("ext", row.data["channel_id"], row.data["external_id"])
    customer_ref = row.customer_id if row.customer_id is not None else ("new", row.group)
    return ("same", customer_ref, row.data["ordered_at"], row.data["amount"], row.data["channel_id"])


def _apply_orders(rows: list[Row], *, dry_run: bool, seen: dict, by) -> tuple[int, int]:
    """An order per row unless its `external_id` (per channel) is known, or, without one, the customer
    already has an order of that amount, time and channel. Returns (created, updated)."""
    existing: set = set()
    by_channel: dict = {}
    for row in rows:
        if row.data["external_id"]:
            by_channel.setdefault(row.data["channel_id"], set()).add(row.data["external_id"])
    for channel_id, external_ids in by_channel.items():
        found = Order.objects.filter(channel_id=channel_id, external_id__in=sorted(external_ids))
        existing |= {("ext", channel_id, e) for e in found.values_list("external_id", flat=True)}
    plain_customers = sorted({r.customer_id for r in rows if r.customer_id and not r.data["external_id"]})
    for start in range(0, len(plain_customers), 900):
        for cid, at, amount, channel_id in Order.objects.filter(
            customer_id__in=plain_customers[start : start + 900], external_id=""
        ).values_list("customer_id", "ordered_at", "amount", "channel_id"):
            existing.add(("same", cid, at, amount, channel_id))
    created = updated = 0
    orders = []
    for row in rows:
        key = _order_key(row)
        if key in existing or key in seen:
            updated += 1
            continue
        seen[key] = True
        created += 1
        if not dry_run:
            orders.append(
                Order(
                    customer_id=row.customer_id,
                    amount=row.data["amount"],
                    ordered_at=row.data["ordered_at"],
                    channel_id=row.data["channel_id"],
                    external_id=row.data["external_id"],
                    created_by=by,
                )
            )
    if orders:
        Order.objects.bulk_create(orders, batch_size=500)
    return created, updated


def _attach_customer_ids(rows: list[Row], errors: list) -> list[Row]:
    """Orders may name `customer_id` instead of contact columns: check those exist (tombstones resolve)."""
    wanted = sorted({r.data["customer_id"] for r in rows if r.data.get("customer_id")})
    if not wanted:
        return rows
    known = dict(Customer.objects.filter(pk__in=wanted).values_list("pk", "merged_into_id"))
    kept = []
    for row in rows:
        cid = row.data.get("customer_id")
        if cid and cid not in known:
            errors.append((row.row_no, "customer_id", _("No customer #%(id)s.") % {"id": cid}))
            continue
        if cid:
            row.customer_id = known[cid] or cid
        kept.append(row)
    return kept


# ---------------------------------------------------------------------------------------------------------------
# Running a job


def run_job(job_id: int) -> None:
    """Claim and process one job (the Celery task body); a job another worker holds is left alone."""
    job = jobs.claim(ImportJob, job_id)
    if job is None:
        return
    try:
        _process(job)
    except (UnicodeDecodeError, csv.Error) as error:
        jobs.finish(job, error=_("The file could not be read: %(error)s") % {"error": error})
        return
    except BaseException:
        jobs.release(job)  # the message is retried with backoff and resumes after the committed batches
        raise
    if not job.is_dry_run:
        queue_full_segment_recompute()


def _process(job: ImportJob) -> None:
    dry_run = job.is_dry_run
    resolver = _resolver()
    lookups = _Lookups(job.kind)
    by = job.created_by
    now = timezone.now()
    # A resumed real run skips the batches it already committed (rows_done is written with each batch).
    skip_rows = job.rows_done if not dry_run else 0
    if dry_run:
        ImportRowError.objects.filter(job=job).delete()
        jobs.beat(job, rows_done=0, created_count=0, updated_count=0, failed_count=0)
    # Dry runs remember every identity of the file, so later rows count as updates of earlier ones;
    # real runs see earlier batches in the database and keep only one batch in memory.
    file_identities: dict = {}
    file_keys: dict = {}
    done = job.rows_done if not dry_run else 0
    counts = {"created": job.created_count, "updated": job.updated_count, "failed": job.failed_count}
    if dry_run:
        counts = dict.fromkeys(counts, 0)
    for parsed in _prefetched(_parse_batches(job, lookups, skip_rows)):
        rows, errors = parsed.rows, parsed.errors
        failed_rows = {n for n, _c, _r in errors}
        with transaction.atomic():
            if job.kind == ImportKind.ORDERS:
                rows = _attach_customer_ids(rows, errors)
                failed_rows = {n for n, _c, _r in errors}
            contact_rows = [r for r in rows if r.customer_id is None]
            _group(contact_rows, file_identities if dry_run else {})
            if dry_run:
                resolver.match(contact_rows)
            elif contact_rows:
                resolver.create(contact_rows, now=now)
            if job.kind == ImportKind.CUSTOMERS:
                created = sum(1 for r in rows if (r.created if not dry_run else _would_create(r)))
                updated = len(rows) - created
            else:
                created, updated = _kinds[job.kind].apply(rows, dry_run=dry_run, seen=file_keys, by=by)
            ImportRowError.objects.bulk_create(
                [ImportRowError(job=job, row_number=n, column=c, reason=r[:300]) for n, c, r in errors],
                batch_size=1000,
            )
            done += parsed.size
            counts["created"] += created
            counts["updated"] += updated
            counts["failed"] += len(failed_rows)
            jobs.beat(
                job,
                rows_done=done,
                created_count=counts["created"],
                updated_count=counts["updated"],
                failed_count=counts["failed"],
                total_rows=max(job.total_rows or 0, done),
            )
        if not dry_run:
            file_keys.clear()
    jobs.finish(job, total_rows=done)


def _would_create(row: Row) -> bool:
    """Dry run: a row creates a customer when nothing matched and it leads its group."""
    return row.customer_id is None and row.group == row.row_no


register_kind(ImportKind.CUSTOMERS, ImportKindRules(may_import=lambda user: permissions.can(user, permissions.CREATE)))
register_kind(
    ImportKind.ORDERS,
    ImportKindRules(may_import=lambda user: permissions.can(user, permissions.ORDER_WRITE), apply=_apply_orders),
)
