"""Racing writes on PostgreSQL (SQLite ignores row locks): a task is completed once, a record keeps one open next
step, and two beat runs send one reminder and one alert."""

from datetime import timedelta
from functools import partial

import pytest
from django.utils import timezone

from config import todo
from config.models import Notification, Task, TaskKind
from tests.factories import LeadFactory, TaskFactory, make_user
from tests.races import at_once

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _outcomes(work) -> list:
    """work(0) and work(1) at once, sorted; a completion refused as already done is "refused"."""
    outcomes = at_once(partial(work, 0), partial(work, 1))
    return sorted("refused" if isinstance(outcome, todo.AlreadyDone) else outcome for outcome in outcomes)


def test_two_racing_completions_write_once():
    seller = make_user("sales")
    task = TaskFactory(assignee=seller)
    outcomes = _outcomes(lambda i: todo.complete_task(task=task, by=seller, outcome=f"done {i}") and "ok")
    assert outcomes == ["ok", "refused"]
    assert Task.objects.get().outcome in ("done 0", "done 1")


def test_two_racing_next_steps_leave_one_open():
    seller = make_user("sales")
    lead = LeadFactory(owner=seller)

    def set_step(i):
        todo.create_task(
            by=seller, kind=TaskKind.NEXT_STEP, title=f"Step {i}", assignee=seller, about_record=lead, may_replace=True
        )
        return "ok"

    assert _outcomes(set_step) == ["ok", "ok"]
    assert Task.objects.filter(done_at__isnull=True).count() == 1


def test_two_racing_beat_runs_send_each_message_once():
    seller = make_user("sales")
    now = timezone.now()
    TaskFactory(assignee=seller, due_at=now + timedelta(minutes=10))
    TaskFactory(assignee=seller, due_at=now - timedelta(minutes=10))
    _outcomes(lambda i: str(todo.remind_due_tasks(now=now) + todo.alert_overdue_tasks(now=now)))
    kinds = sorted(Notification.objects.values_list("kind", flat=True))
    assert kinds == ["tasks.due", "tasks.overdue"]
