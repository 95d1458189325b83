"""Tasks in the admin: every role reads them with filters and search; the action completes only what the person may
work (config.todo), all or nothing, naming the task that blocked it."""

import pytest
from django.urls import reverse

from config.models import Task
from tests.conftest import ROLES
from tests.factories import TaskFactory, make_user

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:config_task_changelist")


@pytest.mark.parametrize("role", ROLES)
def test_every_role_reads_tasks_and_completes_only_what_it_may_work(client_as, role):
    seller = make_user("sales")
    task = TaskFactory(assignee=seller, title="Quote for Li Na")
    client = client_as(role)
    listed = client.get(CHANGELIST, {"q": "Li Na", "state": "open", "kind": "general"})
    assert listed.status_code == 200 and "Quote for Li Na" in listed.content.decode()
    assert client.get(reverse("admin:config_task_add")).status_code == 403  # made on the pages and the API
    client.post(CHANGELIST, {"action": "mark_tasks_done", "_selected_action": [task.pk]})
    may = role in ("sales_manager", "admin")
    assert (Task.objects.get(pk=task.pk).done_at is not None) == may


def test_the_action_is_all_or_nothing(client_as):
    client = client_as("sales")
    mine, theirs = TaskFactory(assignee=client.user), TaskFactory()
    response = client.post(
        CHANGELIST, {"action": "mark_tasks_done", "_selected_action": [mine.pk, theirs.pk]}, follow=True
    )
    assert f"Task #{theirs.pk}" in response.content.decode()
    assert not Task.objects.filter(done_at__isnull=False).exists()
