"""Tasks of every department (DESIGN.md "Everyday work"): every write, and the reads shaped for each screen.

Who may do what (pages, API, admin and the lead page all ask here):

* every staff member reads every task, as they read leads and feedback;
* anyone in a department gives a task to themselves, to a colleague of their own department or to their own
  department's queue; handing work to another department (its queue or one of its people) is for managers,
  of any department, and admins; an admin may place a task anywhere;
* a task is worked (changed, completed, reopened, deleted) by its assignee; while it sits in a department's
  queue (no assignee), by every member of that department; always by the managers of its department, who see
  their people's tasks; and by admins.

Follow-ups that events open (onboarding after a won lead, a detractor answer) are `ensure_task`'s: once per
record, whoever's action caused them, with no permission asked.
"""

from datetime import datetime, time, timedelta
from itertools import islice

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from config import about, roles
from config.errors import Conflict, DomainError
from config.models import ONCE_PER_RECORD_KINDS, Task, TaskKind
from config.notifications import notify

User = get_user_model()

# Kinds a person creates (the others are opened by events, once per record).
CREATABLE_KINDS = (TaskKind.GENERAL, TaskKind.NEXT_STEP, TaskKind.REVIEW_ACTION)
# Service follow-ups keep a record of what was done: completing one needs an outcome.
OUTCOME_REQUIRED_KINDS = frozenset(ONCE_PER_RECORD_KINDS)
# Their overdue alert also goes to the department's managers (DESIGN.md "Alerts": detractor without follow-up).
ESCALATED_KINDS = frozenset(ONCE_PER_RECORD_KINDS)
UPDATABLE = frozenset({"title", "notes", "due_at", "assignee", "department"})
TITLE_MAX = 200


class AlreadyDone(Conflict):
    code = "already_done"


class NotDone(Conflict):
    code = "not_done"


class Protected(Conflict):
    code = "protected"


# ---------------------------------------------------------------- permissions


def may_view(user) -> bool:
    return roles.is_staff_member(user)


def may_act(user, task: Task) -> bool:
    """Change, complete, reopen or delete `task` (module docstring)."""
    if not roles.is_staff_member(user):
        return False
    if getattr(user, "is_superuser", False) or task.assignee_id == user.pk:
        return True
    department = task.department or None
    if task.assignee_id is None and department and roles.department_of(user) == department:
        return True
    return roles.is_manager_of(user, department)


def may_place(user, *, assignee=None, department: str = "") -> bool:
    """Give a task to `assignee`, or to `department`'s queue when no assignee (module docstring)."""
    if not roles.is_staff_member(user):
        return False
    if getattr(user, "is_superuser", False) or (assignee is not None and assignee.pk == user.pk):
        return True
    target = roles.department_of(assignee) if assignee is not None else department
    return target == roles.department_of(user) or roles.is_manager(user)


def require_act(user, task: Task) -> None:
    if not may_act(user, task):
        raise PermissionDenied(_("Only the task's assignee, its department's queue or managers, and admins work it."))


# ---------------------------------------------------------------- helpers


def _placement(by, assignee, department: str) -> tuple[object, str]:
    """(assignee, department) of a task given to a person or to a queue; checks who may place it where.

    Raises PermissionDenied, DomainError(field=assignee|department)."""
    department = department or ""
    if assignee is not None:
        if not assignee.is_active or not roles.is_staff_member(assignee):
            raise DomainError(_("Choose a person of marketing, sales or service."), field="assignee")
        own = roles.department_of(assignee) or ""
        if department and department != own:
            raise DomainError(_("This person is not in that department."), field="department")
        department = own
    else:
        if department not in roles.DEPARTMENTS:
            raise DomainError(_("Choose a person or a department's queue."), field="department", code="required")
    if not may_place(by, assignee=assignee, department=department):
        raise PermissionDenied(_("Only managers give tasks to another department."))
    return assignee, department


def _reference(target) -> tuple[ContentType, int]:
    """The content type and id of what a task is about: a registered model instance or a (kind, id) pair."""
    if isinstance(target, tuple):
        name, pk = target
        content_type = about.content_type_of(name)
    else:
        name, pk = about.kind_of(target), target.pk
        content_type = about.content_type_of(name) if name else None
    if content_type is None or pk is None:
        raise DomainError(_("Tasks cannot be about this kind of record."), field="about")
    return content_type, int(pk)


def _clean_title(title: str, *, kind: str) -> str:
    title = (title or "").strip()
    if not title and kind in CREATABLE_KINDS:
        raise DomainError(_("Give the task a title."), field="title", code="required")
    if len(title) > TITLE_MAX:
        raise DomainError(_("A title has at most 200 characters."), field="title", code="max_length")
    return title


def task_url(task: Task) -> str:
    return reverse("tasks:task-detail", args=[task.pk])


def _notify_assignee(task: Task, by) -> None:
    if task.assignee_id is None or task.assignee_id == getattr(by, "pk", None):
        return
    notify(
        recipients=[task.assignee],
        kind="tasks.assigned",
        message=_("A task for you: %(title)s") % {"title": task.display_title},
        url=task_url(task),
        dedupe_key=f"tasks.{task.pk}.assigned.{task.assignee_id}",
        alert=False,
    )


def _lock(task: Task) -> Task:
    return Task.objects.select_for_update(of=("self",)).select_related("assignee").get(pk=task.pk)


# ---------------------------------------------------------------- writes


@transaction.atomic
def create_task(
    *,
    by,
    title: str,
    kind: str = TaskKind.GENERAL,
    notes: str = "",
    due_at: datetime | None = None,
    assignee=None,
    department: str = "",
    about_record=None,
    may_replace: bool = False,
    now=None,
) -> Task:
    """A task for `assignee`, or for `department`'s queue without one (module docstring says who may).

    A next step (kind next_step) is about a record and replaces that record's open next step, if any, in place;
    the caller passes `may_replace` when its own rule lets `by` set the record's next step (leads: the owner),
    else replacing needs the right to work the open one. Raises PermissionDenied, DomainError(field=title|kind|
    assignee|department|about|due_at).
    """
    now = now or timezone.now()
    if not roles.is_staff_member(by):
        raise PermissionDenied(_("Tasks are for staff of marketing, sales and service."))
    if kind not in CREATABLE_KINDS:
        raise DomainError(_("Onboarding and detractor follow-ups are opened by Relay itself."), field="kind")
    title = _clean_title(title, kind=kind)
    assignee, department = _placement(by, assignee, department)
    content_type, object_id = _reference(about_record) if about_record is not None else (None, None)
    fields = {
        "title": title,
        "notes": (notes or "").strip(),
        "due_at": due_at,
        "assignee": assignee,
        "department": department,
    }
    if kind == TaskKind.NEXT_STEP:
        if content_type is None:
            raise DomainError(_("A next step is about a record: say which."), field="about", code="required")
        # The record's row lock serializes two people setting its next step at once (parents first).
        content_type.model_class()._default_manager.select_for_update().filter(pk=object_id).first()
        current = (
            Task.objects.select_for_update()
            .filter(kind=kind, content_type=content_type, object_id=object_id, done_at__isnull=True)
            .first()
        )
        if current is not None:
            if not may_replace:
                require_act(by, current)
            for name, value in fields.items():
                setattr(current, name, value)
            current.reminded_at = current.alerted_at = None
            current.save()
            _notify_assignee(current, by)
            return current
    task = Task.objects.create(
        kind=kind,
        content_type=content_type,
        object_id=object_id,
        created_by=by,
        created_at=now,
        **fields,
    )
    _notify_assignee(task, by)
    return task


def ensure_task(
    *,
    kind: str,
    about_record,
    department: str,
    due_at: datetime | None,
    title: str = "",
    notes: str = "",
    assignee=None,
    created_by=None,
    now=None,
) -> tuple[Task, bool]:
    """The one task of `kind` about a record, opened by an event (no permission asked); (task, created).

    Idempotent: the partial unique constraint on (kind, record) lets a redelivered event, or two racing ones,
    find the task the first one opened.
    """
    if kind not in ONCE_PER_RECORD_KINDS:
        raise ValueError(f"{kind!r} tasks are not opened once per record")
    content_type, object_id = _reference(about_record)
    return Task.objects.get_or_create(
        kind=kind,
        content_type=content_type,
        object_id=object_id,
        defaults={
            "title": title,
            "notes": (notes or "").strip(),
            "due_at": due_at,
            "assignee": assignee,
            "department": department,
            "created_by": created_by,
            "created_at": now or timezone.now(),
        },
    )


def open_task(
    *,
    title: str,
    department: str = "",
    assignee=None,
    due_at: datetime | None = None,
    notes: str = "",
    about_record=None,
    now=None,
) -> Task:
    """A to-do Relay itself opens for a person, or a department's queue without one (a marketing journey's task
    step): no one's permission is asked. Not idempotent by itself: the caller keys it (the journey's step run holds
    the task it opened, under its row lock). The assignee is told. Raises DomainError(field=title|department|
    about)."""
    title = _clean_title(title, kind=TaskKind.GENERAL)
    if not title:
        raise DomainError(_("Give the task a title."), field="title", code="required")
    if assignee is not None:
        department = roles.department_of(assignee) or ""
    elif department not in roles.DEPARTMENTS:
        raise DomainError(_("Choose a person or a department's queue."), field="department", code="required")
    content_type, object_id = _reference(about_record) if about_record is not None else (None, None)
    task = Task.objects.create(
        kind=TaskKind.GENERAL,
        title=title,
        notes=(notes or "").strip(),
        due_at=due_at,
        assignee=assignee,
        department=department,
        content_type=content_type,
        object_id=object_id,
        created_at=now or timezone.now(),
    )
    _notify_assignee(task, None)
    return task


@transaction.atomic
def update_task(*, task: Task, by, now=None, **fields) -> Task:
    """Change title, notes, due time, or who has it (assignee, or a department's queue with assignee None).

    A new due time reminds and alerts again. Raises PermissionDenied, AlreadyDone (409) for a done task,
    DomainError(field=title|assignee|department|<an unknown field>).
    """
    task = _lock(task)
    require_act(by, task)
    unknown = set(fields) - UPDATABLE
    if unknown:
        raise DomainError(_("This field cannot be changed here."), field=sorted(unknown)[0])
    if task.done_at is not None:
        raise AlreadyDone(_("This task is done; reopen it to change it."), field=None)
    before = task.assignee_id
    if "title" in fields:
        task.title = _clean_title(fields["title"], kind=task.kind)
    if "notes" in fields:
        task.notes = (fields["notes"] or "").strip()
    if "due_at" in fields and fields["due_at"] != task.due_at:
        task.due_at = fields["due_at"]
        task.reminded_at = task.alerted_at = None
    if "assignee" in fields or "department" in fields:
        assignee = fields.get("assignee", task.assignee)
        department = fields.get("department", "" if assignee is not None else task.department)
        task.assignee, task.department = _placement(by, assignee, department)
    task.save()
    if task.assignee_id != before:
        _notify_assignee(task, by)
    return task


@transaction.atomic
def complete_task(*, task: Task, by, outcome: str = "", now=None) -> Task:
    """Mark a task done, with what was done; a task is completed once.

    A queue task becomes the task of whoever did it. Raises PermissionDenied, AlreadyDone (409, field=outcome),
    DomainError(field=outcome) for a follow-up without an outcome.
    """
    now = now or timezone.now()
    task = _lock(task)
    require_act(by, task)
    if task.done_at is not None:
        raise AlreadyDone(_("This task is already done."), field="outcome")
    outcome = (outcome or "").strip()
    if not outcome and task.kind in OUTCOME_REQUIRED_KINDS:
        raise DomainError(_("Say what was done."), field="outcome", code="required")
    task.outcome = outcome
    task.done_at = now
    task.done_by = by
    if task.assignee_id is None:
        task.assignee = by
    task.save()
    return task


@transaction.atomic
def reopen_task(*, task: Task, by, now=None) -> Task:
    """Open a done task again. Raises PermissionDenied, NotDone (409), Conflict when its record has another open
    next step."""
    task = _lock(task)
    require_act(by, task)
    if task.done_at is None:
        raise NotDone(_("This task is not done."), field=None)
    if (
        task.kind == TaskKind.NEXT_STEP
        and Task.objects.filter(
            kind=task.kind, content_type_id=task.content_type_id, object_id=task.object_id, done_at__isnull=True
        ).exists()
    ):
        raise Conflict(_("This record has another open next step; change that one instead."), field=None)
    task.done_at = None
    task.done_by = None
    task.outcome = ""
    task.save()
    return task


@transaction.atomic
def delete_task(*, task: Task, by) -> None:
    """Delete a task. Follow-ups Relay opened are completed, never deleted: they are the service's record.

    Raises PermissionDenied, Protected (409)."""
    task = _lock(task)
    require_act(by, task)
    if task.kind in ONCE_PER_RECORD_KINDS:
        raise Protected(_("Follow-ups opened by Relay are completed, not deleted."), field=None)
    task.delete()


def finish_open_tasks(*, about_record, kind: str, outcome: str, now=None) -> int:
    """Close a record's open tasks of a kind, done by nobody (the system: a lead that left sales has no next step
    any more). Returns how many."""
    now = now or timezone.now()
    content_type, object_id = _reference(about_record)
    return Task.objects.filter(content_type=content_type, object_id=object_id, kind=kind, done_at__isnull=True).update(
        done_at=now, outcome=outcome, updated_at=now
    )


@transaction.atomic
def move_tasks(*, from_record, to_record, ids=None, now=None) -> list[int]:
    """Make the tasks about `from_record` tasks about `to_record`, a record of the same kind: a customer merged into
    another, and back when the merge is undone (`ids`: only these tasks, those still about `from_record`). Run it in
    the caller's transaction, under its row locks on both records. Returns the ids of the tasks moved.

    A task that would make `to_record` break a once-per-record rule stays where it is, as a merge leaves a duplicate
    account owner on the tombstone: an open next step when `to_record` has one (its own plan wins), a follow-up of
    a kind `to_record` already has. Raises DomainError(field=about) for records of different or unknown kinds.
    """
    from_type, from_id = _reference(from_record)
    to_type, to_id = _reference(to_record)
    if from_type != to_type:
        raise DomainError(_("Tasks move only between records of one kind."), field="about")
    target = Task.objects.filter(content_type=to_type, object_id=to_id)
    taken = set(target.filter(kind__in=ONCE_PER_RECORD_KINDS).values_list("kind", flat=True))
    if target.filter(kind=TaskKind.NEXT_STEP, done_at__isnull=True).exists():
        taken.add(TaskKind.NEXT_STEP)
    rows = Task.objects.select_for_update().filter(content_type=from_type, object_id=from_id)
    if ids is not None:
        rows = rows.filter(pk__in=list(ids))
    moving = [
        pk
        for pk, kind, done_at in rows.order_by("pk").values_list("pk", "kind", "done_at")
        if kind not in taken or (kind == TaskKind.NEXT_STEP and done_at is not None)
    ]
    if moving:
        Task.objects.filter(pk__in=moving).update(object_id=to_id, updated_at=now or timezone.now())
    return moving


# ---------------------------------------------------------------- reminders and alerts (beat)


def _recipients(task: Task, members: dict, *, managers: bool):
    """The task's assignee, or its department (its managers only, when `managers`), from a per-run cache."""
    people = []
    if task.assignee is not None and task.assignee.is_active:
        people.append(task.assignee)
    if task.department and (task.assignee is None or managers):
        key = (task.department, managers)
        if key not in members:
            members[key] = list(roles.members(task.department, managers_only=managers))
        people += members[key]
    return people


def _subject(task: Task) -> str:
    """The task's title and what it is about, for a reminder or an alert (one query when it is about a record)."""
    found = about.describe([(task.content_type_id, task.object_id)]).get((task.content_type_id, task.object_id))
    if found is None:
        return task.display_title
    return _("%(title)s · %(about)s") % {"title": task.display_title, "about": found.label}


def remind_due_tasks(*, now=None) -> int:
    """Remind each open task's assignee (a queue task: its department) once, within RELAY_TASK_REMIND_MINUTES of
    its due time. Returns how many tasks were reminded.

    A conditional UPDATE claims each reminder, so two concurrent runs never both send it; the notification's
    dedupe_key (per due time) makes a retried run harmless too.
    """
    now = now or timezone.now()
    soon = now + timedelta(minutes=settings.RELAY_TASK_REMIND_MINUTES)
    due = Task.objects.filter(done_at__isnull=True, reminded_at__isnull=True, due_at__gte=now, due_at__lte=soon)
    members: dict = {}
    reminded = 0
    for task in due.select_related("assignee").order_by("due_at", "pk").iterator():
        with transaction.atomic():
            if not Task.objects.filter(pk=task.pk, reminded_at__isnull=True, done_at__isnull=True).update(
                reminded_at=now
            ):
                continue
            notify(
                recipients=_recipients(task, members, managers=False),
                kind="tasks.due",
                message=_("Due at %(due)s: %(title)s")
                % {"due": date_format(timezone.localtime(task.due_at), "DATETIME_FORMAT"), "title": _subject(task)},
                url=task_url(task),
                dedupe_key=f"tasks.{task.pk}.due.{int(task.due_at.timestamp())}",
                alert=False,
            )
            reminded += 1
    return reminded


def alert_overdue_tasks(*, now=None) -> int:
    """Alert once about each open task past its due time: its assignee, a queue task's department managers, and
    for the service follow-ups (onboarding, detractor) the department's managers too. Returns how many tasks.

    Claimed by a conditional UPDATE of `alerted_at`, like the reminders.
    """
    now = now or timezone.now()
    overdue = Task.objects.filter(done_at__isnull=True, alerted_at__isnull=True, due_at__lt=now)
    members: dict = {}
    alerted = 0
    for task in overdue.select_related("assignee").order_by("due_at", "pk").iterator():
        with transaction.atomic():
            if not Task.objects.filter(pk=task.pk, alerted_at__isnull=True, done_at__isnull=True).update(
                alerted_at=now
            ):
                continue
            escalate = task.assignee_id is None or task.kind in ESCALATED_KINDS
            notify(
                recipients=_recipients(task, members, managers=escalate),
                kind="tasks.overdue",
                message=_("Overdue since %(due)s: %(title)s")
                % {"due": date_format(timezone.localtime(task.due_at), "DATETIME_FORMAT"), "title": _subject(task)},
                url=task_url(task),
                dedupe_key=f"tasks.{task.pk}.overdue.{int(task.due_at.timestamp())}",
            )
            alerted += 1
    return alerted


# ---------------------------------------------------------------- reads


def tasks() -> QuerySet[Task]:
    """Task rows with the people a list renders, in the same query."""
    return Task.objects.select_related("assignee", "created_by", "done_by")


def task_detail(*, pk: int) -> Task:
    """One task with its people and what it is about (two queries). Raises Task.DoesNotExist."""
    task = tasks().get(pk=pk)
    about.attach([task])
    return task


def day_bounds(now: datetime) -> tuple[datetime, datetime]:
    """The start of today and of tomorrow, in the current time zone."""
    today = timezone.localdate(now)
    zone = timezone.get_current_timezone()
    start = timezone.make_aware(datetime.combine(today, time.min), zone)
    return start, timezone.make_aware(datetime.combine(today + timedelta(days=1), time.min), zone)


TABS = ("overdue", "today", "upcoming", "queue", "team", "done")


def _tab_filters(user, now) -> dict[str, Q]:
    """Each tab of "My tasks" as a condition: overdue, due later today, upcoming (or undated), the department's
    queue, the department's people (managers; admins: everyone's), and done."""
    _start, tomorrow = day_bounds(now)
    open_ = Q(done_at__isnull=True)
    mine = Q(assignee=user)
    department = roles.department_of(user)
    admin = bool(getattr(user, "is_superuser", False))
    queue = open_ & Q(assignee__isnull=True) & (Q() if admin else Q(department=department or "-"))
    team = open_ & Q(assignee__isnull=False) & (Q() if admin else Q(department=department or "-"))
    return {
        "overdue": open_ & mine & Q(due_at__lt=now),
        "today": open_ & mine & Q(due_at__gte=now, due_at__lt=tomorrow),
        "upcoming": open_ & mine & (Q(due_at__gte=tomorrow) | Q(due_at__isnull=True)),
        "queue": queue,
        "team": team,
        "done": Q(done_at__isnull=False) & mine,
    }


def visible_tabs(user) -> tuple[str, ...]:
    """The tabs a person has: the team tab is for managers and admins."""
    return tuple(t for t in TABS if t != "team" or roles.is_manager(user))


def my_tasks(user, *, tab: str, now) -> tuple[QuerySet[Task], str]:
    """The tasks of one tab of "My tasks" and the order to page them in (the soonest due first; done: latest)."""
    condition = _tab_filters(user, now)[tab]
    return tasks().filter(condition), ("-done_at" if tab == "done" else "due_at")


def tab_counts(user, *, now) -> dict[str, int]:
    """How many tasks each open tab holds (one query)."""
    filters = _tab_filters(user, now)
    open_tabs = [t for t in visible_tabs(user) if t != "done"]
    return Task.objects.filter(done_at__isnull=True).aggregate(
        **{tab: Count("pk", filter=filters[tab]) for tab in open_tabs}
    )


def home_tasks(user, now, *, limit: int = 10) -> dict[str, list[Task]]:
    """The home page's tasks: the person's overdue ones and those due today, and their department queue's due by
    the end of today (admins: every queue's). Each list at most `limit`, soonest first; three queries, plus one
    per kind of record the tasks are about."""
    filters = _tab_filters(user, now)
    _start, tomorrow = day_bounds(now)
    found = {
        "overdue": list(tasks().filter(filters["overdue"]).order_by("due_at", "pk")[:limit]),
        "today": list(tasks().filter(filters["today"]).order_by("due_at", "pk")[:limit]),
        "queue": list(tasks().filter(filters["queue"], due_at__lt=tomorrow).order_by("due_at", "pk")[:limit]),
    }
    about.attach([task for rows in found.values() for task in rows])
    return found


def home_panel(request) -> dict | None:
    """The home page's task panel (config.home): home_tasks and the time they were read; None outside staff."""
    if not may_view(request.user):
        return None
    now = timezone.now()
    return {**home_tasks(request.user, now), "now": now}


def open_tasks_about(record) -> list[Task]:
    """The open tasks about one record, soonest due first (one query)."""
    content_type, object_id = _reference(record)
    return list(
        tasks().filter(content_type=content_type, object_id=object_id, done_at__isnull=True).order_by("due_at", "pk")
    )


EXPORT_HEADER = [
    "id",
    "title",
    "kind",
    "about_type",
    "about_id",
    "about",
    "assignee",
    "department",
    "due_at",
    "overdue",
    "done_at",
    "done_by",
    "outcome",
    "created_by",
    "created_at",
    "notes",
]


def export_rows(queryset: QuerySet[Task], *, now, chunk: int = 2000):
    """Tasks (filtered, ordered) as CSV rows in EXPORT_HEADER's order, each with the label of the record it is
    about. The tasks are one query read in chunks; what a chunk's tasks are about is one query per kind of record
    in it (config.about.describe), so the count stays fixed up to `chunk` tasks and grows by chunk, not by row."""

    def local(moment):
        return timezone.localtime(moment).isoformat() if moment else ""

    def username(user):
        return user.get_username() if user is not None else ""

    tasks_ = queryset.iterator(chunk_size=chunk)
    while rows := list(islice(tasks_, chunk)):
        found = about.describe((task.content_type_id, task.object_id) for task in rows)
        for task in rows:
            record = found.get((task.content_type_id, task.object_id))
            yield [
                task.pk,
                task.display_title,
                task.kind,
                record.type if record else "",
                record.id if record else "",
                record.label if record else "",
                username(task.assignee),
                task.department,
                local(task.due_at),
                "yes" if task.is_overdue(now) else "no",
                local(task.done_at),
                username(task.done_by),
                task.outcome,
                username(task.created_by),
                local(task.created_at),
                task.notes,
            ]


def count_about(name: str, ref: str = "pk") -> Coalesce:
    """How many tasks are about each row of a registered kind (open or done), for `annotate()` on that kind's rows:
    a subquery on the task index, no query of its own once the kind's content type is cached."""
    content_type = about.content_type_of(name)
    counted = (
        Task.objects.filter(content_type=content_type, object_id=OuterRef(ref))
        .order_by()
        .values("object_id")
        .annotate(n=Count("pk"))
        .values("n")[:1]
    )
    return Coalesce(Subquery(counted), 0)


def about_filter(name: str, ids) -> Q:
    """Tasks about these records of a registered kind (`ids` a list or a subquery of primary keys)."""
    content_type = about.content_type_of(name)
    if content_type is None:
        raise DomainError(_("Tasks cannot be about this kind of record."), field="about")
    return Q(content_type=content_type, object_id__in=ids)
