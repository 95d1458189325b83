"""CSV imports of customers, leads, orders (with their lines) and products: a dry run first, then the real run, in
batches, streamed.

Every row is checked in Python (normalization through `customers.identity`, the same rules as every other
entry point), in a helper thread that reads ahead; then a batch of good rows is matched against existing
identities and written set-based, by the rules of `_PythonResolver`:

* PostgreSQL: one query probes every identity of the batch (on the reading thread's own connection, while
  the previous batch is written), new customers take ids from the sequence, and customers and identities
  are COPied straight into their tables (`_PostgresResolver`);
* SQLite (and anywhere else): batched queries and `bulk_create` (`_PythonResolver`).

A row is written whole or not at all: a row with any bad field is listed in the error report and skipped;
each batch is one transaction, committed together with the job's progress, so a resumed job carries on after
the last committed batch. Importing the same file twice creates nothing new (identities, `external_id`, and
for leads the open `new` lead of the same customer, channel and interest are the keys; for products the SKU, whose
product the file updates).

An order file may carry lines (`sku`, `quantity`, `unit_price`): the rows of one channel and `external_id` are the
lines of one order, whose amount is their sum. They are read as one unit: a batch never ends inside a run of such
rows, and a refused row refuses its whole order.
"""

from __future__ import annotations

import codecs
import csv
import gc
import io
import json
import queue
import re
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, time
from decimal import Decimal
from functools import partial

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from config import audit, jobs, moments, outbox, spreadsheet
from config.errors import DomainError
from config.models import JobStatus
from config.money import parse_amount
from customers import affinity, loyalty, permissions, products
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
    OrderLine,
    Product,
)
from customers.services import (
    MATCH_ORDER,
    MAX_LINES,
    CheckedLine,
    check_line,
    clean_language,
    order_amount,
    queue_full_segment_recompute,
)

BATCH_SIZE = 10000
READ_AHEAD = 2  # parsed batches waiting for the thread that writes
IMPORT_SOURCE = "import"  # source_system of `external_id` identities from customer files
FIRST_DATA_ROW = 2  # row numbers are spreadsheet rows: the header is row 1

CONTACT_COLUMNS = ("name", "company", "city", *CONTACT_IDENTITY_KEYS)
# The built-in kinds' columns; a kind registered from above (touchpoints) names its own (ImportKindRules.columns).
KIND_COLUMNS = {
    ImportKind.CUSTOMERS: (*CONTACT_COLUMNS, "language", "external_id"),
    ImportKind.LEADS: (*CONTACT_COLUMNS, "source_channel", "campaign", "tags", "interest", "note"),
    ImportKind.ORDERS: (
        *CONTACT_COLUMNS,
        "customer_id",
        "amount",
        "ordered_at",
        "channel",
        "external_id",
        "sku",
        "quantity",
        "unit_price",
    ),
    ImportKind.PRODUCTS: ("sku", "name", "category", "price", "is_active"),
}
REQUIRED_COLUMNS = {
    ImportKind.CUSTOMERS: (),
    ImportKind.LEADS: (),
    ImportKind.ORDERS: ("ordered_at",),  # and amount, unless the file has lines (_check_header)
    ImportKind.PRODUCTS: ("sku", "name", "category", "price"),
}
# Kinds whose rows name no customer: no contact columns, nothing matched or created.
WITHOUT_CONTACT = frozenset({ImportKind.PRODUCTS})
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
    "触点类型": "kind",
    "类型": "kind",
    "时间": "at",
    "触达时间": "at",
    "客户编号": "customer_id",
    "商品编码": "sku",
    "货号": "sku",
    "数量": "quantity",
    "单价": "unit_price",
    "商品名称": "name",
    "品类": "category",
    "类别": "category",
    "价格": "price",
    "售价": "price",
    "在售": "is_active",
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


def _kind_columns(kind: str) -> tuple[str, ...]:
    if kind in KIND_COLUMNS:
        return KIND_COLUMNS[kind]
    return (*CONTACT_COLUMNS, *_kinds[kind].columns)


def _by_customer_id(kind: str) -> bool:
    rules = _kinds.get(kind)
    return bool(rules and rules.by_customer_id)


def _check_header(kind: str, columns: list[str]) -> None:
    known = _kind_columns(kind)
    if not set(known) & set(columns):
        raise ImportRefused(
            _("The first row must name the columns, e.g. %(columns)s.") % {"columns": ", ".join(known)},
            field="file",
            code="no_header",
        )
    required = REQUIRED_COLUMNS[kind] if kind in REQUIRED_COLUMNS else _kinds[kind].required
    if kind == ImportKind.ORDERS:
        # With lines the amount is their sum; a line needs its quantity.
        required = (*required, "quantity") if "sku" in columns else (*required, "amount")
    missing = [c for c in required if c not in columns]
    if missing:
        raise ImportRefused(
            _("Missing columns: %(columns)s.") % {"columns": ", ".join(missing)}, field="file", code="missing_columns"
        )
    by_id = _by_customer_id(kind) and "customer_id" in columns
    if kind in WITHOUT_CONTACT:
        return
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
        raise ImportRefused(_("Choose customers, leads, orders, touchpoints or products."), field="kind")
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


@dataclass(slots=True)
class Row:
    row_no: int
    contact: dict  # name, company, city, language, and normalized identities by contact key
    identities: list[tuple[str, str, str]]  # (kind, value, source_system), in match order
    data: dict = field(default_factory=dict)  # kind-specific parsed values
    group: int = 0
    customer_id: int | None = None
    created: bool = False


def _clean(raw: dict, key: str) -> str:
    value = raw.get(key)
    if not value:
        return ""
    value = value.strip()
    # A Relay export imports back unchanged: only a cell starting with ' can be an escaped formula.
    return spreadsheet.unescape_cell(value) if value[:1] == "'" else value


def _parse_contact(
    raw: dict, errors: list, *, kind: str, customer_optional: bool = False
) -> tuple[dict, list[tuple[str, str, str]]]:
    """The row's contact and identities. `customer_optional`: a line of an order may leave the customer to the
    order's other rows (_join_order_lines checks the order names one)."""
    contact = {"name": _clean(raw, "name"), "company": _clean(raw, "company"), "city": _clean(raw, "city")}
    for key, value in contact.items():
        if len(value) > LIMITS[key]:
            errors.append((key, _("At most %(n)s characters.") % {"n": LIMITS[key]}))
    contact["language"] = ""
    if kind == ImportKind.CUSTOMERS and raw.get("language"):
        try:
            contact["language"] = clean_language(_clean(raw, "language"))
        except DomainError as error:
            errors.append(("language", error.message))
    found = {}
    for key, identity_kind in CONTACT_IDENTITY_KEYS.items():
        value = _clean(raw, key) if raw.get(key) else ""
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
    if kind == ImportKind.CUSTOMERS and raw.get("external_id"):
        external = _clean(raw, "external_id")
        if len(external) > LIMITS["external_id"]:
            errors.append(("external_id", _("At most %(n)s characters.") % {"n": LIMITS["external_id"]}))
        elif external:
            found[IdentityKind.EXTERNAL] = (IdentityKind.EXTERNAL, external, IMPORT_SOURCE)
    identities = [found[k] for k in MATCH_ORDER if k in found] if len(found) > 1 else list(found.values())
    if not contact["name"]:
        if identities:
            contact["name"] = identities[0][1]
        elif not (customer_optional or _by_customer_id(kind) and _clean(raw, "customer_id")):
            errors.append(("name", _("Give a name or a contact method.")))
    return contact, identities


def _parse_amount(value: str, errors: list) -> Decimal | None:
    try:
        return parse_amount(value)
    except DomainError as error:
        errors.append((error.field, error.message))
        return None


def parse_moment(value: str, errors: list, *, column: str) -> datetime | None:
    """A cell's date or date and time, aware in the current zone; None with an error on `column` when it is not
    one."""
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
        errors.append((column, _("Use a date like 2026-03-01 or 2026-03-01 14:30.")))
        return None
    refused = moments.refusal(parsed)
    if refused is not None:
        errors.append((column, refused[1]))
        return None
    return timezone.make_aware(parsed) if timezone.is_naive(parsed) else parsed


class _Lookups:
    """Reference data read once per job, so parsing needs no database (it runs in a helper thread)."""

    def __init__(self, kind: str):
        self.channels = dict(Channel.objects.values_list("code", "pk"))
        self.campaigns: dict[str, int] = {}
        # An order file's lines are checked against the catalogue (a few thousand products at most).
        self.products: dict[str, Product] = (
            {p.sku: p for p in Product.objects.only("pk", "sku", "price", "is_active")}
            if kind == ImportKind.ORDERS
            else {}
        )
        rules = _kinds.get(kind)
        self.reference = rules.load() if rules is not None and rules.load is not None else None  # the kind's own
        if kind == ImportKind.LEADS:
            for pk, name in Campaign.objects.order_by("-pk").values_list("pk", "name").iterator():
                self.campaigns.setdefault(name, pk)
                self.campaigns[str(pk)] = pk


def _parse_row(kind: str, row_no: int, raw: dict, lookups: _Lookups) -> tuple[Row | None, list]:
    errors: list[tuple[str, str]] = []
    # A line of an order with an external id may leave the customer, the time and the amount to its other rows.
    order_line = kind == ImportKind.ORDERS and bool(_clean(raw, "sku")) and bool(_clean(raw, "external_id"))
    if kind in WITHOUT_CONTACT:
        contact, identities = {}, []
    else:
        contact, identities = _parse_contact(raw, errors, kind=kind, customer_optional=order_line)
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
        data["line"] = _parse_line(raw, errors, lookups)
        data["amount"] = _parse_amount(_clean(raw, "amount"), errors) if _clean(raw, "amount") else None
        if data["amount"] is None and not _clean(raw, "sku") and not any(c == "amount" for c, _r in errors):
            errors.append(("amount", _("This field is required.")))
        ordered_at = _clean(raw, "ordered_at")
        data["ordered_at"] = parse_moment(ordered_at, errors, column="ordered_at") if ordered_at else None
        if data["ordered_at"] is None and not order_line and not any(c == "ordered_at" for c, _r in errors):
            errors.append(("ordered_at", _("This field is required.")))
        code = _clean(raw, "channel")
        if code and code not in lookups.channels:
            errors.append(("channel", _("Unknown channel %(code)s.") % {"code": code}))
        data["channel_id"] = lookups.channels.get(code)
        external = _clean(raw, "external_id")
        if len(external) > LIMITS["external_id"]:
            errors.append(("external_id", _("At most %(n)s characters.") % {"n": LIMITS["external_id"]}))
        data["external_id"] = external
    elif kind == ImportKind.PRODUCTS:
        data = _parse_product(raw, errors)
    elif (rules := _kinds.get(kind)) is not None and rules.parse is not None:
        data = rules.parse(partial(_clean, raw), errors, lookups.reference)
    if _by_customer_id(kind):
        customer_id = _clean(raw, "customer_id")
        if customer_id and not customer_id.isdigit():
            errors.append(("customer_id", _("Not a customer id.")))
        data["customer_id"] = int(customer_id) if customer_id.isdigit() else None
    if errors:
        return None, errors
    return Row(row_no, contact, identities, data), []


_LINE_COLUMNS = {"product": "sku", "quantity": "quantity", "unit_price": "unit_price"}


def _parse_line(raw: dict, errors: list, lookups: _Lookups) -> CheckedLine | None:
    """An order row's line (sku, quantity, unit_price), by the rules of every entry point (services.check_line);
    None for a row without a SKU."""
    sku = _clean(raw, "sku")
    if not sku:
        if _clean(raw, "quantity") or _clean(raw, "unit_price"):
            errors.append(("sku", _("Give the product's SKU for this line.")))
        return None
    line = {"product": sku, "quantity": _clean(raw, "quantity"), "unit_price": _clean(raw, "unit_price")}
    try:
        return check_line(line, lookups.products, names=_LINE_COLUMNS.__getitem__)
    except DomainError as error:
        errors.append((error.field, error.message))
        return None


_YES = frozenset({"1", "true", "yes", "y", "是", "在售", "有效"})
_NO = frozenset({"0", "false", "no", "n", "否", "停售", "无效"})


def _parse_product(raw: dict, errors: list) -> dict:
    """A product row: sku, name, category and price by customers.products' rules; is_active yes/no (blank: yes)."""
    data: dict = {}
    for column in ("sku", "name", "category", "price"):
        try:
            data[column] = products.clean_field(column, _clean(raw, column))
        except DomainError as error:
            errors.append((column, error.message))
    active = _clean(raw, "is_active").lower()
    if active and active not in _YES | _NO:
        errors.append(("is_active", _("Use yes or no (1 or 0).")))
    data["is_active"] = active not in _NO
    return data


def _iter_rows(job: ImportJob) -> Iterator[tuple[int, dict]]:
    """(spreadsheet row number, {column: value}) for each non-empty data row, streamed from the file."""
    with job.file.storage.open(job.file.name, "rb") as handle:
        reader = csv.reader(_text(getattr(handle, "file", handle), job.encoding or "utf-8"))
        header = _header(next(reader, []))
        row_no = FIRST_DATA_ROW - 1
        for values in reader:
            row_no += 1
            joined = "".join(values)
            if not joined or joined.isspace():
                continue
            if len(values) != len(header):
                # Never map cells by position: a short or long row is refused whole.
                yield row_no, {_CELL_COUNT: (len(values), len(header))}
                continue
            yield row_no, dict(zip(header, values, strict=True))


def _same_order(kind: str, first: dict, then: dict) -> bool:
    """Two rows of an order file that are lines of one order: the same channel and external id."""
    if kind != ImportKind.ORDERS:
        return False
    external = (first.get("external_id") or "").strip()
    return (
        bool(external)
        and external == (then.get("external_id") or "").strip()
        and (first.get("channel") or "").strip() == (then.get("channel") or "").strip()
    )


def _batches(job: ImportJob, skip_rows: int) -> Iterator[tuple[list[tuple[int, dict]], bool]]:
    """(batch, skipped): the first `skip_rows` data rows (committed by an earlier attempt) come marked skipped.

    A batch runs on past its size while the next row is a line of the same order as its last row, so an order's
    lines are written together (and a resumed run starts at an order's first row)."""
    ramp = iter((1_000, 3_000))  # small first batches: the database starts while the next ones are read

    def next_size(read: int) -> int:
        if read < skip_rows:
            return min(skip_rows - read, BATCH_SIZE)
        return min(next(ramp, BATCH_SIZE), BATCH_SIZE)

    batch, read = [], 0
    size = next_size(0)
    for item in _iter_rows(job):
        if len(batch) >= size and not (read >= skip_rows and _same_order(job.kind, batch[-1][1], item[1])):
            read += len(batch)
            yield batch, read <= skip_rows
            batch, size = [], next_size(read)
        batch.append(item)
    if batch:
        yield batch, read + len(batch) <= skip_rows


@dataclass
class _Parsed:
    size: int  # data rows read, good or bad
    rows: list
    errors: list
    owners: dict | None = None  # what the read-ahead probe found (`_probed_ahead`), if it ran


def _contact_rows(rows: list[Row]) -> list[Row]:
    """The rows matched by their contact details (an order row may name its customer by id instead)."""
    return [r for r in rows if not r.data.get("customer_id")]


def _parse_batches(job: ImportJob, lookups: _Lookups, skip_rows: int) -> Iterator[_Parsed]:
    """Parsed batches; the first `skip_rows` data rows (committed by an earlier attempt) are skipped.

    Skipped rows are still parsed, to remember what identifies them: a resumed run refuses the same repeats
    as a run that never stopped. Rows found by contact (not by `customer_id`) are grouped here, off the
    thread that waits on the database.
    """
    first_rows: dict = {}  # what identifies a row → (the first row number that had it, its batch, is it a line)
    # Dry runs remember every identity of the file, so later rows count as updates of earlier ones;
    # real runs see earlier batches in the database and keep only one batch in memory.
    file_identities: dict = {}
    for batch_no, (raw_batch, skipped) in enumerate(_batches(job, skip_rows)):
        rows, errors, refused_orders = [], [], {}
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
                if job.kind == ImportKind.ORDERS and _clean(raw, "sku"):
                    refused_orders.setdefault(_raw_order_key(raw, lookups), row_no)
            elif (repeat := _repeat_of_earlier_row(job.kind, row, first_rows, batch_no)) is not None:
                errors.append((row_no, *repeat))
            else:
                rows.append(row)
        if job.kind == ImportKind.ORDERS:
            rows = _join_order_lines(rows, errors, refused_orders)
        if not skipped:
            _group(_contact_rows(rows), file_identities if job.is_dry_run else {})
            yield _Parsed(len(raw_batch), rows, errors)


def _probed_ahead(batches: Iterator[_Parsed], resolver: _PythonResolver) -> Iterator[_Parsed]:
    """Probe each batch's identities ahead of its writes, on the reading thread's own connection.

    The probe then runs beside the previous batch's writes instead of after them. It sees what was committed
    when it ran, so the resolver adds what the batches in between wrote (`_PythonResolver.match`).
    """
    try:
        for parsed in batches:
            with transaction.atomic():
                parsed.owners = resolver.owners(_contact_rows(parsed.rows))
            yield parsed
    finally:
        connection.close()  # this thread's connection


_CELL_COUNT = "\x00cells"  # no header can be named this
_COLUMN_OF_IDENTITY = {identity_kind: column for column, identity_kind in CONTACT_IDENTITY_KEYS.items()}


def _repeat_of_earlier_row(kind: str, row: Row, first_rows: dict, batch_no: int = 0) -> tuple[str, str] | None:
    """(column, reason) when this row repeats what identifies an earlier row of the file, else None.

    A customer file has one row per customer: a phone, email, id or external id seen before is an error,
    not a merge. An order file's external id (per channel) names one order, whose lines may take several rows
    of one batch (_batches keeps a run of them together; rows of one order far apart in a long file are refused).
    A product file has one row per SKU. Leads may repeat a contact.
    """
    line = bool(row.data.get("line"))
    if kind == ImportKind.CUSTOMERS:
        keys = row.identities  # (kind, value, source): the source follows from the kind
    elif kind == ImportKind.ORDERS and row.data.get("external_id"):
        keys = [("external_id", row.data["channel_id"], row.data["external_id"])]
    elif kind == ImportKind.PRODUCTS:
        keys = [("sku", row.data["sku"])]
    else:
        return None
    for key in keys:
        first = first_rows.get(key)
        if first is not None:
            first_row, first_batch, first_line = first
            if line and first_line and first_batch == batch_no:
                continue  # another line of the same order
            column = _COLUMN_OF_IDENTITY.get(key[0], key[0])
            if line and first_line:
                return column, _("Row %(row)s has the same %(column)s: put an order's rows next to each other.") % {
                    "row": first_row,
                    "column": column,
                }
            return column, _("Row %(row)s has the same %(column)s.") % {"row": first_row, "column": column}
    for key in keys:
        first_rows.setdefault(key, (row.row_no, batch_no, line))
    return None


def _raw_order_key(raw: dict, lookups: _Lookups):
    """The order a refused line row belonged to, from its cells (its other rows are refused with it)."""
    external = _clean(raw, "external_id")
    return (lookups.channels.get(_clean(raw, "channel")), external) if external else ("row", id(raw))


def _names_customer(row: Row) -> bool:
    return bool(row.identities or row.data.get("customer_id") or row.contact.get("name"))


def _line_conflict(leader: Row, row: Row) -> tuple[str, str] | None:
    """(column, reason) when a later row of an order says something else than the row that leads it."""
    reason = _("Row %(row)s of this order says otherwise.") % {"row": leader.row_no}
    if row.data.get("customer_id") and row.data["customer_id"] != leader.data.get("customer_id"):
        return "customer_id", reason
    for identity in row.identities:
        if identity not in leader.identities:
            return _COLUMN_OF_IDENTITY.get(identity[0], "name"), reason
    if row.data["ordered_at"] is not None and row.data["ordered_at"] != leader.data["ordered_at"]:
        return "ordered_at", reason
    return None


def _order_amount(amount, lines: list[CheckedLine]) -> tuple[Decimal | None, tuple[str, str] | None]:
    """(amount, None) by the rule of every entry point (services.order_amount), or (None, (column, reason))."""
    try:
        return order_amount(amount, lines), None
    except DomainError as error:
        return None, (error.field or "amount", error.message)


def _join_order_lines(rows: list[Row], errors: list, refused: dict) -> list[Row]:
    """An order file's rows as orders, each row given `lines` and the amount they make.

    The rows with lines of one channel and external id become one order, led by its first row naming the customer
    (whose customer and time the order takes; the other rows may leave them blank, not name others), with their
    lines; an amount given on any of its rows must be their sum. A refused row refuses its whole order (`refused`:
    order key → the first row of this batch that failed to parse). Returns the rows that make an order, in order.
    """
    groups: dict = {}
    kept = []
    for row in rows:
        line = row.data.get("line")
        if line and row.data["external_id"]:
            groups.setdefault((row.data["channel_id"], row.data["external_id"]), []).append(row)
            continue
        row.data["lines"] = [line] if line else []
        if line:
            row.data["amount"], problem = _order_amount(row.data["amount"], row.data["lines"])
            if problem is not None:
                errors.append((row.row_no, *problem))
                continue
        kept.append(row)
    for key, group in groups.items():
        problems: list[tuple[Row, str, str]] = []
        leader = next((r for r in group if _names_customer(r)), None)
        lines = [r.data["line"] for r in group]
        if key in refused:
            problems.append((group[0], "", _("Row %(row)s of this order was refused.") % {"row": refused[key]}))
        elif leader is None:
            problems.append((group[0], "name", _("Give a name or a contact method.")))
        elif leader.data["ordered_at"] is None:
            problems.append((leader, "ordered_at", _("This field is required.")))
        elif len(group) > MAX_LINES:
            problems.append((group[0], "sku", _("An order has at most %(limit)s lines.") % {"limit": MAX_LINES}))
        else:
            problems += [(r, *conflict) for r in group if r is not leader and (conflict := _line_conflict(leader, r))]
        total = None
        if not problems:
            for row in group:
                amount, problem = _order_amount(row.data["amount"], lines)
                if problem is not None:
                    problems.append((row, *problem))
                total = amount if total is None else total
        if problems:
            blamed = {id(row) for row, _column, _reason in problems}
            errors += [(row.row_no, column, reason) for row, column, reason in problems]
            first = problems[0][0].row_no
            errors += [
                (row.row_no, "", _("Row %(row)s of this order was refused.") % {"row": first})
                for row in group
                if id(row) not in blamed
            ]
            continue
        leader.data["lines"] = lines
        leader.data["amount"] = total
        kept.append(leader)
    kept.sort(key=lambda row: row.row_no)
    return kept


_DONE = object()


def _prefetched(iterator: Iterator, depth: int = READ_AHEAD) -> Iterator:
    """Run a producer in a thread, one or two batches ahead.

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
        finally:
            if hasattr(iterator, "close"):
                iterator.close()  # its clean-up runs on this thread (e.g. closing this thread's connection)

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
        group = row.row_no
        for key in row.identities:
            leader = seen.get(key)
            if leader is not None:
                group = leader
                break
        row.group = group
        for key in row.identities:
            seen.setdefault(key, group)


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
    """Match a batch's rows to customers and create the rest: the rules, and the portable writes (SQLite).

    Each row takes the customer of its first identity (in match order) that exists; a group with a matched
    member joins that customer; every other group becomes one new customer, led by its first row. Identities
    not yet known are added to the row's customer (the first row naming one wins), and blanks of the
    customers the file updates are filled, never overwritten.
    """

    def __init__(self):
        # What the last batches wrote, for probes that ran before those batches committed (`_probed_ahead`
        # probes batch n once batch n - READ_AHEAD - 2 has committed).
        self._recent: deque[dict] = deque(maxlen=READ_AHEAD + 1)

    def owners(self, rows: list[Row]) -> dict:
        """The (live) customer owning each identity of these rows that exists: (kind, value, source) → id."""
        return self._owners({key for row in rows for key in row.identities})

    def match(self, rows: list[Row], *, owners: dict | None = None) -> dict:
        """Set `customer_id` of rows that match; returns the owner of each known identity of the batch.

        `owners` is what a probe ahead of the previous batches' writes found (else this probes now).
        """
        if owners is None:
            owners = self.owners(rows)
        else:
            owners = dict(owners)
            keys = {key for row in rows for key in row.identities}
            for written in self._recent:
                for key in written.keys() & keys:
                    owners.setdefault(key, written[key])
            # A customer merged since the probe hands its rows to the survivor, as a probe now would.
            merged = dict(
                Customer.objects.filter(pk__in=set(owners.values()), merged_into__isnull=False).values_list(
                    "pk", "merged_into_id"
                )
            )
            if merged:
                owners = {key: merged.get(cid, cid) for key, cid in owners.items()}
        if owners:
            for row in rows:
                for key in row.identities:
                    owner = owners.get(key)
                    if owner is not None:
                        row.customer_id = owner
                        break
            _propagate(rows)
        return owners

    def create(self, rows: list[Row], *, now, owners: dict | None = None) -> None:
        owners = self.match(rows, owners=owners)
        leaders = [row for row in rows if row.customer_id is None and row.group == row.row_no]
        ids = dict(zip((row.row_no for row in leaders), self._insert_customers(leaders, now=now), strict=True))
        new_identities: dict[tuple[str, str, str], int] = {}
        for row in rows:
            if row.customer_id is None:
                row.customer_id = ids[row.group]
                row.created = row.group == row.row_no
            for key in row.identities:
                if key not in owners:
                    new_identities.setdefault(key, row.customer_id)
        self._recent.append(self._insert_identities(new_identities, now=now))
        blanks: dict[int, dict] = {}
        for row in rows:
            if not row.created:
                for key in ("company", "city", "language"):
                    if row.contact.get(key):
                        blanks.setdefault(row.customer_id, {}).setdefault(key, row.contact[key])
        if blanks:
            self._fill_blanks(blanks, now=now)

    def _owners(self, keys: set) -> dict:
        by_kind: dict[tuple[str, str], list[str]] = {}
        for kind, value, source in keys:
            by_kind.setdefault((kind, source), []).append(value)
        owners: dict[tuple[str, str, str], int] = {}
        for (kind, source), values in by_kind.items():
            values.sort()
            for start in range(0, len(values), 900):
                for value, cid, merged in CustomerIdentity.objects.filter(
                    kind=kind, source_system=source, value__in=values[start : start + 900]
                ).values_list("value", "customer_id", "customer__merged_into_id"):
                    owners[(kind, value, source)] = merged or cid
        return owners

    def _insert_customers(self, leaders: list[Row], *, now) -> list[int]:
        customers = [
            Customer(
                name=r.contact["name"],
                company=r.contact["company"],
                city=r.contact["city"],
                language=r.contact.get("language", ""),
                source_channel_id=r.data.get("channel_id"),
            )
            for r in leaders
        ]
        Customer.objects.bulk_create(customers, batch_size=500)
        return [c.pk for c in customers]

    def _insert_identities(self, identities: dict, *, now) -> dict:
        """Add identities nobody held at the probe; returns those written (one taken since stays with its owner)."""
        CustomerIdentity.objects.bulk_create(
            [
                CustomerIdentity(customer_id=cid, kind=kind, value=value, source_system=source)
                for (kind, value, source), cid in identities.items()
            ],
            ignore_conflicts=True,
            batch_size=500,
        )
        return identities  # SQLite has one writer at a time: nobody took one since the probe

    def _fill_blanks(self, wanted: dict[int, dict], *, now) -> None:
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
        audit.record_rows(Customer, [c.pk for c in changed])  # existing customers changed: in the audit log


class _PostgresResolver(_PythonResolver):
    """The same rules, set-based: one probe query per batch, ids from the sequence, COPY into the tables."""

    CUSTOMER_COLUMNS = (
        "id",
        "name",
        "company",
        "city",
        "language",
        "source_channel_id",
        "lifecycle_stage",
        "rfm_frequency",
        "rfm_monetary",
        "rfm_segment",
        "loyalty_tier",
        "points_balance",
        "created_at",
        "updated_at",
    )
    IDENTITY_COLUMNS = ("customer_id", "kind", "value", "source_system", "is_valid", "created_at")

    def _owners(self, keys: set) -> dict:
        if not keys:
            return {}
        customer_t, identity_t = Customer._meta.db_table, CustomerIdentity._meta.db_table
        with connection.cursor() as cursor:
            # Index probes on a few hundred thousand identities cost less than their summed estimate, which
            # would otherwise trip JIT compilation; LATERAL … LIMIT 1 keeps one probe per value whatever the
            # statistics of a freshly filled identity table say. The values travel as one JSON document:
            # psycopg dumps long Python lists as arrays item by item.
            cursor.execute("SET LOCAL jit = off")
            cursor.execute(
                f"SELECT v.kind, v.value, v.source_system, m.cid "  # nosec B608
                f"FROM (SELECT x->>0 AS kind, x->>1 AS value, x->>2 AS source_system "
                f"FROM json_array_elements(%s::json) AS x) v "
                f"CROSS JOIN LATERAL (SELECT COALESCE(c.merged_into_id, c.id) AS cid FROM {identity_t} ci "
                f"JOIN {customer_t} c ON c.id = ci.customer_id WHERE ci.kind = v.kind "
                f"AND ci.source_system = v.source_system AND ci.value = v.value LIMIT 1) m",
                [json.dumps(list(keys), ensure_ascii=False)],
            )
            return {(kind, value, source): cid for kind, value, source, cid in cursor.fetchall()}

    def _insert_customers(self, leaders: list[Row], *, now) -> list[int]:
        if not leaders:
            return []
        table = Customer._meta.db_table
        stamp = now.isoformat()  # COPY reads the text; dumping a datetime per row costs more than the row
        stage = LifecycleStage.AWARENESS.value
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", [table, len(leaders)]
            )
            ids = sorted(pk for (pk,) in cursor.fetchall())
            with cursor.cursor.copy(f"COPY {table} ({', '.join(self.CUSTOMER_COLUMNS)}) FROM STDIN") as copy:
                for pk, row in zip(ids, leaders, strict=True):
                    contact = row.contact
                    copy.write_row(
                        (
                            pk,
                            contact["name"],
                            contact["company"],
                            contact["city"],
                            contact.get("language", ""),
                            row.data.get("channel_id"),
                            stage,
                            0,
                            0,
                            "",
                            "",  # not a member until customers.loyalty says so
                            0,
                            stamp,
                            stamp,
                        )
                    )
        return ids

    def _insert_identities(self, identities: dict, *, now) -> dict:
        if not identities:
            return identities
        table = CustomerIdentity._meta.db_table
        try:
            # COPY has no ON CONFLICT: it is the fast path for identities nobody holds (the probe just said
            # so). One claimed since by another writer fails it, and the batch falls back to INSERT … ON
            # CONFLICT DO NOTHING, which leaves that identity with its owner.
            with (
                transaction.atomic(),
                connection.wrap_database_errors,
                connection.cursor() as cursor,
                cursor.cursor.copy(f"COPY {table} ({', '.join(self.IDENTITY_COLUMNS)}) FROM STDIN") as copy,
            ):
                stamp = now.isoformat()
                for (kind, value, source), cid in identities.items():
                    copy.write_row((cid, kind, value, source, True, stamp))
            return identities
        except IntegrityError:
            pass
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} ({', '.join(self.IDENTITY_COLUMNS)}) "  # nosec B608
                f"SELECT (x->>0)::bigint, x->>1, x->>2, x->>3, true, %s "
                f"FROM json_array_elements(%s::json) WITH ORDINALITY AS v(x, n) ORDER BY v.n "
                f"ON CONFLICT (kind, source_system, value) DO NOTHING RETURNING kind, value, source_system",
                [now, json.dumps([(cid, *key) for key, cid in identities.items()], ensure_ascii=False)],
            )
            written = {tuple(key) for key in cursor.fetchall()}
        return {key: cid for key, cid in identities.items() if key in written}

    def _fill_blanks(self, wanted: dict[int, dict], *, now) -> None:
        columns = ("company", "city", "language")
        sets = ", ".join(f"{c} = CASE WHEN c.{c} = '' THEN v.{c} ELSE c.{c} END" for c in columns)
        blanks = " OR ".join(f"(c.{c} = '' AND v.{c} <> '')" for c in columns)
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {Customer._meta.db_table} c SET {sets}, updated_at = %s FROM ("  # nosec B608
                f"SELECT (x->>0)::bigint AS id, x->>1 AS company, x->>2 AS city, x->>3 AS language "
                f"FROM json_array_elements(%s::json) AS x) v WHERE c.id = v.id AND ({blanks}) RETURNING c.id",
                [now, json.dumps([(pk, *(values.get(c, "") for c in columns)) for pk, values in wanted.items()])],
            )
            changed = [pk for (pk,) in cursor.fetchall()]
        audit.record_rows(Customer, changed)  # existing customers changed: in the audit log


def _resolver():
    return _PostgresResolver() if connection.vendor == "postgresql" else _PythonResolver()


# ---------------------------------------------------------------------------------------------------------------
# Kind-specific writes (after customers are resolved)


@dataclass(frozen=True)
class ImportKindRules:
    """Who may import a kind and how its rows are written: the rules of creating that row through the API.

    `apply(rows, dry_run=, seen=, by=)` returns (created, updated); a dry run writes nothing. `seen` holds what
    the rows applied before in this file wrote (the whole file in a dry run, the batch in a real run, whose
    earlier batches are in the database). Customers and orders are registered here; leads and touchpoints
    register their kinds from their apps' subscriptions modules.

    A kind registered from above also names its own columns (after the contact columns, which every kind
    parses) and those the header must have, and parses them: `load()` reads its reference data once per job,
    and `parse(cell, errors, reference)` turns a row into the kind's `Row.data` without touching the database
    (it runs in a helper thread), where `cell(column)` is the cell's cleaned text and each bad cell appends
    (column, reason) to `errors`. With `by_customer_id`, a row may name `customer_id` instead of a contact.
    """

    may_import: Callable[[object], bool]
    apply: Callable[..., tuple[int, int]] | None = None
    columns: tuple[str, ...] = ()
    required: tuple[str, ...] = ()
    by_customer_id: bool = False
    load: Callable[[], object] | None = None
    parse: Callable[[Callable[[str], str], list, object], dict] | None = None


_kinds: dict[str, ImportKindRules] = {}


def register_kind(kind: str, rules: ImportKindRules) -> None:
    _kinds[kind] = rules


def _require_may_import(by, kind: str) -> None:
    rules = _kinds.get(kind)
    if rules is None:
        raise ImportRefused(_("Choose customers, leads, orders, touchpoints or products."), field="kind")
    if by is not None and not rules.may_import(by):
        raise PermissionDenied(_("Your role may not create these records, so it may not import them."))


def _order_key(row: Row):
    if row.data["external_id"]:
        return ("ext", row.data["channel_id"], row.data["external_id"])
    customer_ref = row.customer_id if row.customer_id is not None else ("new", row.group)
    return ("same", customer_ref, row.data["ordered_at"], row.data["amount"], row.data["channel_id"])


def _apply_orders(rows: list[Row], *, dry_run: bool, seen: dict, by) -> tuple[int, int]:
    """An order per row (with the lines _join_order_lines gave it) unless its `external_id` (per channel) is known,
    or, without one, the customer already has an order of that amount, time and channel. New orders earn their
    points and place their customers in a tier (customers.loyalty, set-based), and orders with lines ask for the
    affinity refresh; like every import they publish no `order.placed`. Returns (created, updated)."""
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
    orders, lines = [], []
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
            lines.append(row.data["lines"])
    if orders:
        Order.objects.bulk_create(orders, batch_size=500)
        OrderLine.objects.bulk_create(
            [
                OrderLine(order=order, product=line.product, quantity=line.quantity, unit_price=line.unit_price)
                for order, order_lines in zip(orders, lines, strict=True)
                for line in order_lines
            ],
            batch_size=1000,
        )
        loyalty.earn_for_orders([order.pk for order in orders])
        loyalty.recompute_tiers(sorted({order.customer_id for order in orders}))
        if any(lines):
            affinity.queue_affinity_refresh()
    return created, updated


def _apply_products(rows: list[Row], *, dry_run: bool, seen: dict, by) -> tuple[int, int]:
    """A product per new SKU; a known SKU's product takes the row's name, category, price and active flag (the
    rules were checked by _parse_product with customers.products'). Returns (created, updated)."""
    skus = sorted({row.data["sku"] for row in rows})
    existing: dict[str, Product] = {}
    for start in range(0, len(skus), 900):
        existing.update({p.sku: p for p in Product.objects.filter(sku__in=skus[start : start + 900])})
    fields = ("name", "category", "price", "is_active")
    now = timezone.now()
    created = updated = 0
    new, changed = [], []
    for row in rows:
        sku = row.data["sku"]
        product = existing.get(sku)
        if product is None and sku in seen:
            updated += 1
            continue
        if product is None:
            created += 1
            seen[sku] = True
            new.append(Product(sku=sku, **{name: row.data[name] for name in fields}))
            continue
        updated += 1
        for name in fields:
            setattr(product, name, row.data[name])
        product.updated_at = now  # bulk_update leaves auto_now alone: the ETag follows this stamp
        changed.append(product)
    if not dry_run:
        Product.objects.bulk_create(new, batch_size=500)
        Product.objects.bulk_update(changed, [*fields, "updated_at"], batch_size=500)
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
        # The audit log names the import and its author for the existing customers it fills in (config/audit.py).
        with _without_cyclic_gc(), audit.acting(audit.EntryPoint.IMPORT, user=job.created_by):
            _process(job)
    except (UnicodeDecodeError, csv.Error) as error:
        jobs.finish(job, error=_("The file could not be read: %(error)s") % {"error": error})
        return
    except BaseException:
        jobs.release(job)  # the message is retried with backoff and resumes after the committed batches
        raise
    if not job.is_dry_run and job.kind not in WITHOUT_CONTACT:
        queue_full_segment_recompute()


@contextmanager
def _without_cyclic_gc():
    """Pause the cycle collector while a job runs.

    A job allocates millions of short-lived, acyclic objects (cells, rows, tuples), freed by reference
    counting as each batch is done; the collector would still trace every live object again and again
    (a third of the job's CPU at 100,000 rows). Memory stays bounded by the batches in flight.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


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
    file_keys: dict = {}
    done = job.rows_done if not dry_run else 0
    counts = {"created": job.created_count, "updated": job.updated_count, "failed": job.failed_count}
    if dry_run:
        counts = dict.fromkeys(counts, 0)
    batches = _parse_batches(job, lookups, skip_rows)
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        # The read-ahead probe's connection sees only committed rows, so inside a caller's transaction
        # (tests) the probes stay on this connection.
        batches = _probed_ahead(batches, resolver)
    for parsed in _prefetched(batches):
        rows, errors = parsed.rows, parsed.errors
        failed_rows = {n for n, _c, _r in errors}
        with transaction.atomic():
            if _by_customer_id(job.kind):
                rows = _attach_customer_ids(rows, errors)
                failed_rows = {n for n, _c, _r in errors}
            # Grouped by _parse_batches; a product row names no customer.
            contact_rows = [] if job.kind in WITHOUT_CONTACT else [r for r in rows if r.customer_id is None]
            if dry_run:
                resolver.match(contact_rows, owners=parsed.owners)
            elif contact_rows:
                resolver.create(contact_rows, now=now, owners=parsed.owners)
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
    ImportKind.PRODUCTS,
    ImportKindRules(may_import=lambda user: permissions.can(user, permissions.PRODUCT_WRITE), apply=_apply_products),
)
register_kind(
    ImportKind.ORDERS,
    ImportKindRules(
        may_import=lambda user: permissions.can(user, permissions.ORDER_WRITE),
        apply=_apply_orders,
        by_customer_id=True,
    ),
)
