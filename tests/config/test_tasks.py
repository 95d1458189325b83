"""config.todo: who may give and work tasks, completing once, next steps replaced in place, follow-ups opened once,
and the beat's reminders and overdue alerts, each sent once however often the beat runs."""

from datetime import datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone

from config import tasks, todo
from config.errors import DomainError
from config.models import Notification, Task, TaskKind
from tests.factories import LeadFactory, NpsResponseFactory, TaskFactory, make_user

pytestmark = pytest.mark.django_db

NOW = datetime.fromisoformat("2026-03-10T10:00:00+08:00")  # a Tuesday morning in Shanghai


def _task(by, **kwargs):
    kwargs.setdefault("title", "Send the quote")
    return todo.create_task(by=by, **kwargs)


# ---------------------------------------------------------------- who gives a task to whom


@pytest.mark.parametrize(
    ("giver", "target", "allowed"),
    [
        ("sales", "self", True),
        ("sales", "sales", True),  # a colleague
        ("sales", "queue:sales", True),  # the own department's queue
        ("sales", "service", False),  # another department's person …
        ("sales", "queue:service", False),  # … or queue: managers only
        ("sales_manager", "service", True),
        ("service_manager", "queue:marketing", True),
        ("marketing", "queue:marketing", True),
        ("admin", "queue:service", True),
        ("admin", "marketing", True),
    ],
)
def test_who_may_give_a_task_to_whom(giver, target, allowed):
    by = make_user(giver)
    if target == "self":
        placement = {"assignee": by}
    elif target.startswith("queue:"):
        placement = {"assignee": None, "department": target.removeprefix("queue:")}
    else:
        placement = {"assignee": make_user(target)}
    if allowed:
        task = _task(by, **placement)
        expected = placement.get("department") or (
            "" if placement["assignee"].is_superuser else placement["assignee"].groups.get().name
        )
        assert task.department == expected and task.created_by == by
    else:
        with pytest.raises(PermissionDenied):
            _task(by, **placement)
        assert not Task.objects.exists()


def test_a_task_needs_a_title_a_place_and_a_creatable_kind():
    seller = make_user("sales")
    with pytest.raises(DomainError) as no_title:
        _task(seller, title="  ", assignee=seller)
    with pytest.raises(DomainError) as nowhere:
        _task(seller, assignee=None, department="")
    with pytest.raises(DomainError) as wrong_department:
        _task(seller, assignee=make_user("sales"), department="service")
    with pytest.raises(DomainError) as system_kind:
        _task(seller, assignee=seller, kind=TaskKind.DETRACTOR)
    with pytest.raises(DomainError) as no_record:
        _task(seller, assignee=seller, kind=TaskKind.NEXT_STEP)
    fields = [e.value.field for e in (no_title, nowhere, wrong_department, system_kind, no_record)]
    assert fields == ["title", "department", "department", "kind", "about"]
    assert not Task.objects.exists()


def test_giving_someone_a_task_tells_them_once():
    manager, seller = make_user("sales_manager"), make_user("sales")
    task = _task(manager, assignee=seller)
    note = Notification.objects.get(recipient=seller)
    assert (note.kind, note.url) == ("tasks.assigned", f"/tasks/{task.pk}/")
    _task(seller, assignee=seller)  # one's own task: nobody is told
    assert Notification.objects.count() == 1


# ---------------------------------------------------------------- who works a task


@pytest.mark.parametrize(
    ("worker", "task_for", "allowed"),
    [
        ("assignee", "person", True),
        ("colleague", "person", False),  # a person's task is theirs …
        ("manager", "person", True),  # … and their manager's
        ("other_manager", "person", False),
        ("admin", "person", True),
        ("colleague", "queue", True),  # a queue task is the whole department's
        ("outsider", "queue", False),
        ("other_manager", "queue", False),
    ],
)
def test_who_may_work_a_task(worker, task_for, allowed):
    seller = make_user("sales")
    people = {
        "assignee": seller,
        "colleague": make_user("sales"),
        "manager": make_user("sales_manager"),
        "other_manager": make_user("service_manager"),
        "admin": make_user("admin"),
        "outsider": make_user("marketing"),
    }
    placement = {"assignee": seller} if task_for == "person" else {"assignee": None, "department": "sales"}
    task = _task(make_user("sales_manager"), **placement)
    by = people[worker]
    assert todo.may_act(by, task) == allowed
    if allowed:
        todo.complete_task(task=task, by=by, outcome="Sent")
        assert Task.objects.get(pk=task.pk).done_by == by
    else:
        with pytest.raises(PermissionDenied):
            todo.complete_task(task=task, by=by)
        with pytest.raises(PermissionDenied):
            todo.update_task(task=task, by=by, title="Mine now")
        assert Task.objects.get(pk=task.pk).done_at is None


def test_completing_twice_is_a_conflict_and_writes_once():
    seller = make_user("sales")
    task = _task(seller, assignee=seller)
    first = todo.complete_task(task=task, by=seller, outcome="Sent", now=NOW)
    with pytest.raises(todo.AlreadyDone) as again:
        todo.complete_task(task=task, by=seller, outcome="Sent again", now=NOW + timedelta(hours=1))
    assert (again.value.status, again.value.code, again.value.field) == (409, "already_done", "outcome")
    task.refresh_from_db()
    assert (task.done_at, task.outcome) == (first.done_at, "Sent")


def test_a_queue_task_done_becomes_the_doers_and_a_follow_up_needs_an_outcome():
    agent = make_user("service")
    task = TaskFactory(assignee=None, department="service", kind=TaskKind.DETRACTOR, title="")
    with pytest.raises(DomainError) as missing:
        todo.complete_task(task=task, by=agent, outcome=" ")
    assert missing.value.field == "outcome"
    done = todo.complete_task(task=task, by=agent, outcome="Called back")
    assert (done.assignee, done.department, done.display_title) == (agent, "service", "Detractor follow-up")


def test_reopen_and_delete():
    seller = make_user("sales")
    task = _task(seller, assignee=seller)
    with pytest.raises(todo.NotDone):
        todo.reopen_task(task=task, by=seller)
    todo.complete_task(task=task, by=seller)
    reopened = todo.reopen_task(task=task, by=seller)
    assert (reopened.done_at, reopened.done_by, reopened.outcome) == (None, None, "")
    follow_up = TaskFactory(assignee=seller, kind=TaskKind.ONBOARDING, title="")
    with pytest.raises(todo.Protected):
        todo.delete_task(task=follow_up, by=make_user("admin"))
    todo.delete_task(task=task, by=seller)
    assert list(Task.objects.all()) == [follow_up]


def test_changing_the_due_time_reminds_and_alerts_again_and_a_done_task_is_not_changed():
    seller = make_user("sales")
    task = _task(seller, assignee=seller, due_at=NOW)
    Task.objects.filter(pk=task.pk).update(reminded_at=NOW, alerted_at=NOW)
    task = todo.update_task(task=task, by=seller, due_at=NOW + timedelta(days=1), notes="Ask for the budget")
    assert (task.reminded_at, task.alerted_at, task.notes) == (None, None, "Ask for the budget")
    moved = todo.update_task(task=task, by=make_user("sales_manager"), assignee=None, department="sales")
    assert (moved.assignee, moved.department) == (None, "sales")
    with pytest.raises(DomainError) as unknown:
        todo.update_task(task=task, by=seller, kind="detractor")
    assert unknown.value.field == "kind"
    todo.complete_task(task=task, by=seller)
    with pytest.raises(todo.AlreadyDone):
        todo.update_task(task=task, by=seller, title="Too late")


# ---------------------------------------------------------------- next steps and follow-ups


def test_a_records_next_step_is_replaced_in_place_and_only_one_is_open():
    seller = make_user("sales")
    lead = LeadFactory(owner=seller)
    first = _task(seller, kind=TaskKind.NEXT_STEP, about_record=lead, assignee=seller, due_at=NOW)
    Task.objects.filter(pk=first.pk).update(reminded_at=NOW)
    second = _task(
        seller, kind=TaskKind.NEXT_STEP, about_record=lead, assignee=seller, title="Demo", due_at=NOW + timedelta(1)
    )
    assert second.pk == first.pk and (second.title, second.reminded_at) == ("Demo", None)
    assert Task.objects.count() == 1
    # someone who may not work the open one may not replace it either
    colleague = make_user("sales")
    with pytest.raises(PermissionDenied):
        _task(colleague, kind=TaskKind.NEXT_STEP, about_record=lead, title="Mine", assignee=colleague)
    with pytest.raises(IntegrityError), transaction.atomic():  # the database holds the rule too
        Task.objects.create(kind=TaskKind.NEXT_STEP, title="x", department="sales", about=lead)
    todo.complete_task(task=second, by=seller)
    third = _task(seller, kind=TaskKind.NEXT_STEP, about_record=lead, assignee=seller, title="Contract")
    assert third.pk != first.pk
    with pytest.raises(DomainError):  # the done one cannot come back while another is open
        todo.reopen_task(task=second, by=seller)


def test_an_event_opens_its_follow_up_once():
    answer = NpsResponseFactory(score=2)
    first, created = todo.ensure_task(
        kind=TaskKind.DETRACTOR, about_record=answer, department="service", due_at=NOW, now=NOW
    )
    again, created_again = todo.ensure_task(
        kind=TaskKind.DETRACTOR, about_record=("nps_response", answer.pk), department="service", due_at=NOW
    )
    assert (created, created_again, again.pk) == (True, False, first.pk)
    with pytest.raises(IntegrityError), transaction.atomic():
        Task.objects.create(kind=TaskKind.DETRACTOR, department="service", about=answer)
    with pytest.raises(ValueError):
        todo.ensure_task(kind=TaskKind.GENERAL, about_record=answer, department="service", due_at=None)


# ---------------------------------------------------------------- the beat


def _at(moment):
    return time_machine.travel(moment, tick=False)


def test_a_due_task_reminds_its_assignee_once(settings):
    settings.RELAY_TASK_REMIND_MINUTES = 60
    seller = make_user("sales")
    soon = _task(seller, assignee=seller, due_at=NOW + timedelta(minutes=45), title="Call Li Na")
    _task(seller, assignee=seller, due_at=NOW + timedelta(minutes=90))  # not yet
    _task(seller, assignee=seller)  # no due time: never reminded
    with _at(NOW):
        tasks.remind_due_tasks.delay()
        tasks.remind_due_tasks.delay()
    reminders = Notification.objects.filter(kind="tasks.due")
    assert list(reminders.values_list("recipient_id", "url")) == [(seller.pk, f"/tasks/{soon.pk}/")]
    assert "Call Li Na" in reminders.get().message
    assert Task.objects.get(pk=soon.pk).reminded_at == NOW
    # moved later, it reminds again when that time comes
    todo.update_task(task=soon, by=seller, due_at=NOW + timedelta(hours=5))
    with _at(NOW + timedelta(hours=4, minutes=30)):
        assert todo.remind_due_tasks() == 1  # the other one is overdue by now: it alerts instead
    assert reminders.count() == 2


def test_a_queue_task_reminds_its_department_and_a_done_one_nobody():
    agents = [make_user("service"), make_user("service_manager")]
    make_user("sales")
    queued = TaskFactory(assignee=None, department="service", due_at=NOW + timedelta(minutes=10))
    done = TaskFactory(due_at=NOW + timedelta(minutes=10), done_at=NOW)
    with _at(NOW):
        assert todo.remind_due_tasks() == 1
    assert sorted(Notification.objects.values_list("recipient_id", flat=True)) == sorted(a.pk for a in agents)
    assert Task.objects.get(pk=done.pk).reminded_at is None and Task.objects.get(pk=queued.pk).reminded_at == NOW


def test_an_overdue_task_alerts_once():
    seller, manager = make_user("sales"), make_user("sales_manager")
    late = _task(seller, assignee=seller, due_at=NOW - timedelta(minutes=1))
    _task(seller, assignee=seller, due_at=NOW + timedelta(minutes=1))
    with _at(NOW):
        tasks.alert_overdue_tasks.delay()
        tasks.alert_overdue_tasks.delay()
    alerts = Notification.objects.filter(kind="tasks.overdue")
    assert list(alerts.values_list("recipient_id", flat=True)) == [seller.pk]  # a person's to-do: them alone
    assert alerts.get().dedupe_key == f"tasks.{late.pk}.overdue.{int(late.due_at.timestamp())}"  # per due time
    assert manager.pk not in alerts.values_list("recipient_id", flat=True)


def test_an_overdue_follow_up_or_queue_task_alerts_the_department_managers():
    agent, manager = make_user("service"), make_user("service_manager")
    make_user("sales_manager")
    mine = TaskFactory(assignee=agent, department="service", kind=TaskKind.ONBOARDING, title="", due_at=NOW)
    queued = TaskFactory(assignee=None, department="service", due_at=NOW)
    with _at(NOW + timedelta(hours=1)):
        assert todo.alert_overdue_tasks() == 2
        assert todo.alert_overdue_tasks() == 0
    by_task = {
        pk: sorted(Notification.objects.filter(url=f"/tasks/{pk}/").values_list("recipient_id", flat=True))
        for pk in (mine.pk, queued.pk)
    }
    assert by_task == {mine.pk: sorted([agent.pk, manager.pk]), queued.pk: [manager.pk]}


def test_the_beat_runs_both_checks(settings):
    schedule = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"config.tasks.remind_due_tasks", "config.tasks.alert_overdue_tasks"} <= schedule


def test_home_tasks_are_todays_and_the_overdue_and_the_queues():
    agent = make_user("service")
    with _at(NOW):
        overdue = TaskFactory(assignee=agent, department="service", due_at=NOW - timedelta(days=2))
        today = TaskFactory(assignee=agent, department="service", due_at=NOW + timedelta(hours=3))
        TaskFactory(assignee=agent, department="service", due_at=NOW + timedelta(days=1))  # tomorrow
        queued = TaskFactory(assignee=None, department="service", due_at=NOW + timedelta(hours=1))
        TaskFactory(assignee=None, department="sales", due_at=NOW)  # another queue
        found = todo.home_tasks(agent, timezone.now())
    assert [[t.pk for t in found[k]] for k in ("overdue", "today", "queue")] == [[overdue.pk], [today.pk], [queued.pk]]
