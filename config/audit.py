"""The audit log (DESIGN.md "Everyday work" → Audit log): every create, change and delete of a tracked record, with
who made it, when, through which entry point, and each field's old and new value.

Tracking is django-simple-history: a model declares `history = audit.history()` and gets a `Historical<Model>`
table with one row per version. The row is written by the model's post_save/post_delete signal, so inside the
writing service's `transaction.atomic()`: a service that refuses after its save rolls its history back with it.
`AuditContextMiddleware` and the Celery signals below say who and through which entry point (`EntryPoint`):

* a request under /api/ is "api", under /admin/ "admin", any other request "web"; the signed-in user is the
  author (the API's token or session user once DRF has authenticated it);
* a Celery task is "task" with no author, unless it says otherwise with `acting()`;
* anything else (a management command, the shell, a data migration) is "system" with no author.

The values are kept in context variables, so each thread, task and request sees its own.

Who reads which history (`READERS`): the managers named here and admins; everyone else gets 403.

| model label | records | readers |
| --- | --- | --- |
| `leads.lead` | leads | managers of sales and of marketing |
| `customers.customer`, `.customeridentity`, `.order` | customers, identities, orders | managers of every department |
| `feedback.complaint` | complaints | managers of service |
| `okr.objective`, `okr.keyresult` | objectives, key results | managers of the objective's department |
| `config.webhookendpoint` | webhook endpoints | admins only (as the endpoints themselves) |
| `marketing.journey`, `.journeystep` | journeys and their steps | managers of marketing |

A key result whose objective is deleted too, or an objective without any row left, has no department: admins
only. All three departments work with customers, so each one's managers read theirs.

Bulk writes fire no model signal. The ones that change tracked records a person would look for write their
history rows through `record_rows()`/`record_created()` (simple-history's `bulk_history_create`) in the same
transaction: identities attached to a customer, the rows a customer merge or its undo moves (reason "merge",
"merge_undone"), a webhook endpoint switched off after 410 Gone, and the existing customers whose blank company,
city or language a CSV import fills in (entry point "import", by the person who started it), and the steps a journey
edit renumbers. Deliberately not
recorded:

* The fresh rows of a CSV import (customers.imports): customers, identities, orders and leads are COPied or
  bulk-inserted at tens of thousands of rows a second, and a history row each would double that work. The import
  job is their summary entry: who started it, when, which file, how many rows it created, updated and refused
  (and why), kept with the job and shown on the import page.
* Columns only SQL writes are left out of the history tables (else the next save would show their drift as the
  editor's change): a customer's lifecycle stage and RFM scores (customers.segments), a complaint's SLA breach
  alert stamps (feedback.services' conditional UPDATE).
* A lead's tags (a many-to-many: a history table of its own would cost a read and a write on every lead save).
* Secrets: a webhook endpoint's `secret` and `previous_secret` are excluded from its history table; a rotation
  shows as the old secret's new expiry.
* Timestamps the database keeps (`created_at`, `updated_at`) and other non-editable columns are stored in each
  version but not listed as changes: the version's own time says when.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from uuid import UUID

from celery.signals import task_postrun, task_prerun
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db import models
from django.urls import NoReverseMatch, reverse
from django.utils import formats, timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from config import roles
from config.errors import DomainError

MAX_ID = 2**63 - 1
BULK_BATCH = 500


class EntryPoint(models.TextChoices):
    WEB = "web", _("Web page")
    API = "api", _("API")
    ADMIN = "admin", _("Admin")
    TASK = "task", _("Background task")
    IMPORT = "import", _("Import")
    SYSTEM = "system", _("System")


class Reason(models.TextChoices):
    """What a bulk change was part of (`history_change_reason`, stored as the code, shown by its label)."""

    MERGE = "merge", _("Customer merge")
    MERGE_UNDONE = "merge_undone", _("Customer merge undone")
    SWITCHED_OFF = "switched_off", _("Switched off: the receiver answered 410 Gone")


ACTIONS = {"+": "create", "~": "change", "-": "delete"}
ACTION_LABELS = {"create": _("Created"), "change": _("Changed"), "delete": _("Deleted")}

_entry_point: ContextVar[str] = ContextVar("relay_audit_entry_point", default=EntryPoint.SYSTEM)
_request: ContextVar = ContextVar("relay_audit_request", default=None)
_actor: ContextVar = ContextVar("relay_audit_actor", default=None)


# ---------------------------------------------------------------------------------------------------------------
# Who and through which entry point


def current_entry_point() -> str:
    """The entry point of the work under way (the default of every history row's `entry_point`)."""
    return str(_entry_point.get())


def current_user():
    """The author of the work under way: the user `acting()` names, else the request's signed-in user, else None."""
    actor = _actor.get()
    if actor is not None:
        return actor
    request = _request.get()
    user = getattr(request, "user", None) if request is not None else None
    return user if getattr(user, "is_authenticated", False) else None


def _history_user(instance=None, request=None, **kwargs):
    """simple-history's `get_user` hook: the author from the context variables, never a thread-local request."""
    return current_user()


@contextmanager
def acting(entry_point: str, *, user=None):
    """Within this block history rows name `entry_point` and `user` (None: nobody), whatever the request says."""
    tokens = (_entry_point.set(entry_point), _actor.set(user), _request.set(None))
    try:
        yield
    finally:
        _request.reset(tokens[2])
        _actor.reset(tokens[1])
        _entry_point.reset(tokens[0])


def entry_point_for(path: str) -> str:
    if path.startswith("/api/"):
        return EntryPoint.API
    if path.startswith("/admin/"):
        return EntryPoint.ADMIN
    return EntryPoint.WEB


class AuditContextMiddleware:
    """Names the request's entry point and keeps the request (for its user) in context variables while it runs."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        point, held = _entry_point.set(entry_point_for(request.path_info)), _request.set(request)
        try:
            return self.get_response(request)
        finally:
            _request.reset(held)
            _entry_point.reset(point)


_task_tokens: dict[str, tuple] = {}


@task_prerun.connect(weak=False)
def _task_starts(task_id=None, **kwargs):
    # A task runs for nobody in particular, even an eager one inside a request (tests, CELERY_TASK_ALWAYS_EAGER).
    _task_tokens[task_id] = (_entry_point.set(EntryPoint.TASK), _actor.set(None), _request.set(None))


@task_postrun.connect(weak=False)
def _task_ends(task_id=None, **kwargs):
    tokens = _task_tokens.pop(task_id, None)
    if tokens is not None:
        _request.reset(tokens[2])
        _actor.reset(tokens[1])
        _entry_point.reset(tokens[0])


# ---------------------------------------------------------------------------------------------------------------
# Tracking


class HistoryEntry(models.Model):
    """What every history table has beside simple-history's own columns (who: `history_user`, when:
    `history_date`, what: `history_type`)."""

    entry_point = models.CharField(
        _("entry point"), max_length=10, choices=EntryPoint.choices, default=current_entry_point
    )

    class Meta:
        abstract = True


class AuditRecords(HistoricalRecords):
    """simple-history's history table, read by record only: the record's id is indexed, its foreign keys are not
    (each index would cost on every save, and no page looks history up by them)."""

    def copy_fields(self, model):
        fields = super().copy_fields(model)
        for name, copied in fields.items():
            if name != model._meta.pk.attname:
                copied.db_index = False
        return fields


def history(*, excluded_fields: list[str] | None = None) -> AuditRecords:
    """`history = audit.history()` on a model tracks it (add the model to READERS too)."""
    return AuditRecords(
        bases=[HistoryEntry],
        get_user=_history_user,
        excluded_fields=excluded_fields or [],
        history_id_field=models.BigAutoField(primary_key=True),  # a log outlives 2**31 versions
    )


def history_model(model) -> type[models.Model] | None:
    """The model's history table, or None when it is not tracked."""
    name = getattr(model._meta, "simple_history_manager_attribute", None)
    return getattr(model, name).model if name else None


def record_rows(model, pks, *, reason: str = "", where: dict | None = None) -> int:
    """A "change" history row for each of these rows (those of them matching `where`) as they are now, after a
    queryset.update() changed them (no signal fires for it). Call it in the writer's transaction. Returns how many
    rows were recorded."""
    manager = _manager(model)
    pks = sorted(set(pks))
    if manager is None or not pks:
        return 0
    done = 0
    now = timezone.now()
    for start in range(0, len(pks), BULK_BATCH):
        rows = model._base_manager.filter(pk__in=pks[start : start + BULK_BATCH], **(where or {}))
        rows = list(rows.order_by("pk"))
        manager.bulk_history_create(rows, update=True, default_change_reason=reason[:100], default_date=now)
        done += len(rows)
    return done


def record_created(model, rows, *, reason: str = "") -> int:
    """A "create" history row for each of these saved rows, after a bulk_create (no signal fires for it)."""
    manager = _manager(model)
    rows = [row for row in rows if row.pk is not None]
    if manager is None or not rows:
        return 0
    manager.bulk_history_create(
        rows, batch_size=BULK_BATCH, default_change_reason=reason[:100], default_date=timezone.now()
    )
    return len(rows)


def _manager(model):
    name = getattr(model._meta, "simple_history_manager_attribute", None)
    return getattr(model, name) if name else None


# ---------------------------------------------------------------------------------------------------------------
# Who may read it


@dataclass(frozen=True)
class Readers:
    """The managers of `departments` read the history, or of the department the record's `department_field`
    names; `detail_url` is the URL name of the record's own page (one id argument), for a link back."""

    departments: tuple[str, ...] = ()
    department_field: str | None = None
    detail_url: str | None = None


READERS: dict[str, Readers] = {
    "leads.lead": Readers(departments=(roles.SALES, roles.MARKETING), detail_url="leads:lead-detail"),
    "customers.customer": Readers(departments=roles.DEPARTMENTS, detail_url="customers:customer-detail"),
    "customers.customeridentity": Readers(departments=roles.DEPARTMENTS),
    "customers.order": Readers(departments=roles.DEPARTMENTS),
    "feedback.complaint": Readers(departments=(roles.SERVICE,), detail_url="feedback:complaint-detail"),
    "okr.objective": Readers(department_field="department"),
    "okr.keyresult": Readers(department_field="objective__department"),
    "config.webhookendpoint": Readers(),
    "marketing.journey": Readers(departments=(roles.MARKETING,), detail_url="marketing:journey-detail"),
    "marketing.journeystep": Readers(departments=(roles.MARKETING,)),
}


class AuditObjectInvalid(DomainError):
    status, code = 400, "invalid"


class AuditObjectMissing(DomainError):
    status, code = 404, "not_found"


_OBJECT = re.compile(r"(?P<label>[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*):(?P<pk>[0-9]{1,19})")


def resolve(value) -> tuple[type[models.Model], int]:
    """`"leads.lead:42"` → (Lead, 42). Raises AuditObjectInvalid (field "object"; code "required", "invalid",
    "unknown_model" or "not_tracked")."""
    if not value:
        raise AuditObjectInvalid(
            gettext("Name the record as <app>.<model>:<id>, for example leads.lead:42."),
            field="object",
            code="required",
        )
    match = _OBJECT.fullmatch(str(value).strip().lower())
    if match is None or not 1 <= int(match["pk"]) <= MAX_ID:
        raise AuditObjectInvalid(
            gettext("Name the record as <app>.<model>:<id>, for example leads.lead:42."), field="object"
        )
    try:
        model = apps.get_model(match["label"])
    except LookupError:
        raise AuditObjectInvalid(
            gettext("There is no kind of record called %(label)s.") % {"label": match["label"]},
            field="object",
            code="unknown_model",
        ) from None
    if history_model(model) is None:
        raise AuditObjectInvalid(
            gettext("Changes to %(records)s are not recorded.") % {"records": model._meta.verbose_name_plural},
            field="object",
            code="not_tracked",
        )
    return model, int(match["pk"])


def _record_department(model, pk: int, path: str) -> str | None:
    """The department a record's `path` names, from the record, else from its last history row (deleted)."""
    value = model._base_manager.filter(pk=pk).values_list(path, flat=True).first()
    if value is None:
        rows = history_model(model).objects.filter(**{model._meta.pk.attname: pk}).order_by("-history_id")
        value = rows.values_list(path, flat=True).first()
    return value


def can_read(user, model, pk: int) -> bool:
    """Whether `user` may read the history of record `pk` of `model` (the table above; admins read all)."""
    if roles.is_admin(user):
        return True
    readers = READERS.get(model._meta.label_lower)
    if readers is None or not roles.is_manager(user):
        return False
    if readers.department_field:
        department = roles.department_of(user)
        return department is not None and department == _record_department(model, pk, readers.department_field)
    return any(roles.is_manager_of(user, department) for department in readers.departments)


def require_read(user, model, pk: int) -> None:
    """PermissionDenied unless `can_read`."""
    if not can_read(user, model, pk):
        raise PermissionDenied(
            gettext("Only the managers of the department it belongs to and admins read this history.")
        )


# ---------------------------------------------------------------------------------------------------------------
# Reading it


def history_rows(model, pk: int):
    """Every version of one record, with its author (order them; newest first is "-pk", the history id)."""
    return history_model(model).objects.filter(**{model._meta.pk.attname: pk}).select_related("history_user")


def older_row(model, rows):
    """The version just before the last of `rows` (a page, newest first), to diff it against; None when the last
    is the record's creation or there is none."""
    if not rows or rows[-1].history_type == "+":
        return None
    last = rows[-1]
    earlier = history_model(model).objects.filter(
        **{model._meta.pk.attname: getattr(last, model._meta.pk.attname), "history_id__lt": last.history_id}
    )
    return earlier.order_by("-history_id").first()


def record_exists(model, pk: int) -> bool:
    return model._base_manager.filter(pk=pk).exists()


@dataclass
class FieldChange:
    field: str  # the field's name (the API)
    label: str  # its verbose name (pages)
    old: object
    new: object
    old_display: str = ""
    new_display: str = ""


@dataclass
class Entry:
    id: int
    at: datetime
    by: dict | None  # {"id", "name"}
    entry_point: str
    action: str
    reason: str
    changes: list[FieldChange] = field(default_factory=list)

    @property
    def entry_point_label(self) -> str:
        return EntryPoint(self.entry_point).label if self.entry_point in EntryPoint.values else self.entry_point

    @property
    def action_label(self) -> str:
        return ACTION_LABELS[self.action]

    @property
    def reason_label(self) -> str:
        return Reason(self.reason).label if self.reason in Reason.values else self.reason


def _fields(row) -> list:
    """The fields a person sets, in the model's order (timestamps the database keeps are left out)."""
    return [f for f in row.tracked_fields if f.editable]


def _empty(value) -> bool:
    return value is None or value in ("", [], {})


def _changes(row, before) -> list[FieldChange]:
    fields = _fields(row)
    if row.history_type == "+":
        pairs = [(f, None, getattr(row, f.attname)) for f in fields]
        return [FieldChange(f.name, str(f.verbose_name), old, new) for f, old, new in pairs if not _empty(new)]
    if row.history_type == "-":
        pairs = [(f, getattr(row, f.attname), None) for f in fields]
        return [FieldChange(f.name, str(f.verbose_name), old, new) for f, old, new in pairs if not _empty(old)]
    if before is None:  # history began after the record did: there is nothing to compare with
        return []
    delta = row.diff_against(before, included_fields=[f.name for f in fields])
    changed = {change.field: change for change in delta.changes}
    return [
        FieldChange(f.name, str(f.verbose_name), changed[f.name].old, changed[f.name].new)
        for f in fields
        if f.name in changed
    ]


def person_name(user) -> str:
    return user.get_full_name() or user.get_username()


def entries(rows, *, older=None, displayed: bool = False) -> list[Entry]:
    """One Entry per history row of one record (`rows` newest first, `older` the version before the last), each
    with its field changes against the version before it. `displayed` fills the changes' display values for a
    page (foreign keys named, one query per kind of related record)."""
    rows = list(rows)
    out = []
    for index, row in enumerate(rows):
        before = rows[index + 1] if index + 1 < len(rows) else older
        user = row.history_user
        out.append(
            Entry(
                id=row.history_id,
                at=row.history_date,
                by={"id": user.pk, "name": person_name(user)} if user is not None else None,
                entry_point=row.entry_point,
                action=ACTIONS[row.history_type],
                reason=row.history_change_reason or "",
                changes=_changes(row, before),
            )
        )
    if displayed and rows:
        _display(type(rows[0]), out)
    return out


def plain(value):
    """A field value as JSON: decimals as strings, times in ISO 8601 with their offset, ids as integers."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return (timezone.localtime(value) if timezone.is_aware(value) else value).isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    return value


def _display(history_table, out: list[Entry]) -> None:
    """Fill each change's display values: choices by label, foreign keys by the related record's name."""
    wanted: dict[type, set] = {}
    model_fields = {f.name: f for f in history_table.tracked_fields}
    for entry in out:
        for change in entry.changes:
            f = model_fields[change.field]
            if f.many_to_one or f.one_to_one:
                wanted.setdefault(f.related_model, set()).update(v for v in (change.old, change.new) if v is not None)
    names: dict[type, dict] = {}
    user_model = get_user_model()
    for related, ids in wanted.items():
        found = related._base_manager.in_bulk(sorted(ids))
        names[related] = {pk: person_name(obj) if related is user_model else str(obj) for pk, obj in found.items()}
    for entry in out:
        for change in entry.changes:
            f = model_fields[change.field]
            change.old_display = _shown(f, change.old, names)
            change.new_display = _shown(f, change.new, names)


def _shown(f, value, names) -> str:
    if _empty(value):
        return "—"
    if f.many_to_one or f.one_to_one:
        return names.get(f.related_model, {}).get(value) or f"#{value}"
    if f.choices:
        return str(dict(f.flatchoices).get(value, value))
    if isinstance(value, bool):
        return gettext("Yes") if value else gettext("No")
    if isinstance(value, datetime):
        return formats.date_format(timezone.localtime(value), "DATETIME_FORMAT")
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(formats.localize(value))


def record_title(model, pk: int, record) -> str:
    """How the record is named on its history page: itself when it still exists (`record`), else its kind and id."""
    if record is not None:
        return str(record)
    return gettext("%(kind)s #%(id)s (deleted)") % {"kind": model._meta.verbose_name, "id": pk}


def detail_url(model, pk: int) -> str | None:
    """The record's own page, when it has one."""
    readers = READERS.get(model._meta.label_lower)
    if readers is None or not readers.detail_url:
        return None
    try:
        return reverse(readers.detail_url, args=[pk])
    except NoReverseMatch:
        return None


def history_url(model, pk: int) -> str:
    return reverse("audit-record", args=[model._meta.label_lower, pk])
