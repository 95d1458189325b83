"""Racing writes on PostgreSQL (SQLite ignores row locks): a task is completed once, a record keeps one open next
step, and two beat runs send one reminder and one alert."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from config import todo
from config.models import Notification, Task, TaskKind
from tests.factories import LeadFactory, TaskFactory, make_user

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _race(work, n=2) -> list[str]:
    barrier, outcomes = threading.Barrier(n), []

    def run(i):
        try:
            barrier.wait()
            outcomes.append(work(i))
        except todo.AlreadyDone:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(outcomes)


def test_two_racing_completions_write_once():
    seller = make_user("sales")
    task = TaskFactory(assignee=seller)
    outcomes = _race(lambda i: todo.complete_task(task=task, by=seller, outcome=f"done {i}") and "ok")
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

    assert _race(set_step) == ["ok", "ok"]
    assert Task.objects.filter(done_at__isnull=True).count() == 1


def test_two_racing_beat_runs_send_each_message_once():
    seller = make_user("sales")
    now = timezone.now()
    TaskFactory(assignee=seller, due_at=now + timedelta(minutes=10))
    TaskFactory(assignee=seller, due_at=now - timedelta(minutes=10))
    _race(lambda i: str(todo.remind_due_tasks(now=now) + todo.alert_overdue_tasks(now=now)))
    kinds = sorted(Notification.objects.values_list("kind", flat=True))
    assert kinds == ["tasks.due", "tasks.overdue"]
