"""The task pages: "My tasks" with its tabs and add form, the done button (htmx and plain), a task's page, the
follow-up list and the home panel; every role, and a fixed number of queries."""

from datetime import datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from config.models import Task, TaskKind
from tests.conftest import ROLES
from tests.factories import (
    ComplaintFactory,
    FollowUpTaskFactory,
    LeadFactory,
    TaskFactory,
    UserFactory,
    make_user,
)

pytestmark = pytest.mark.django_db

NOW = datetime.fromisoformat("2026-03-10T10:00:00+08:00")  # a Tuesday morning in Shanghai
LIST = reverse("tasks:task-list")


@pytest.fixture(autouse=True)
def _clock():
    """ "Today" is a local date: the tabs are read at a fixed moment, whatever the hour the suite runs."""
    with time_machine.travel(NOW, tick=False):
        yield


def _rows(response) -> list[int]:
    return [task.pk for task in response.context["page"]]


def test_the_tabs_sort_my_tasks_by_when_they_are_due(client_as):
    client = client_as("sales")
    me = client.user
    overdue = TaskFactory(assignee=me, due_at=NOW - timedelta(days=1), title="Overdue one")
    today = TaskFactory(assignee=me, due_at=NOW + timedelta(hours=5), title="Today one")
    tomorrow = TaskFactory(assignee=me, due_at=NOW + timedelta(hours=15))  # 01:00 tomorrow, local time
    undated = TaskFactory(assignee=me, due_at=None)
    done = TaskFactory(assignee=me, due_at=NOW, done_at=NOW - timedelta(minutes=5), outcome="Sent")
    queued = TaskFactory(assignee=None, department="sales", due_at=NOW + timedelta(days=2))
    TaskFactory(assignee=None, department="service")  # another department's queue
    TaskFactory(due_at=NOW - timedelta(days=1))  # a colleague's

    first = client.get(LIST)
    assert first.context["current"] == "overdue" and _rows(first) == [overdue.pk]  # the first tab with work
    counts = {tab["key"]: tab["count"] for tab in first.context["tabs"]}
    assert counts == {"overdue": 1, "today": 1, "upcoming": 2, "queue": 1, "done": None}  # no team tab: no manager
    assert _rows(client.get(LIST, {"tab": "today"})) == [today.pk]
    assert _rows(client.get(LIST, {"tab": "upcoming"})) == [tomorrow.pk, undated.pk]
    assert _rows(client.get(LIST, {"tab": "queue"})) == [queued.pk]
    assert _rows(client.get(LIST, {"tab": "done"})) == [done.pk]
    html = first.content.decode()
    assert 'data-testid="tab-overdue"' in html and "Overdue one" in html and 'data-testid="overdue"' in html


def test_a_manager_sees_the_teams_tasks(client_as):
    client = client_as("sales_manager")
    theirs = TaskFactory(due_at=NOW)  # a sales person's
    TaskFactory(assignee=make_user("service"), department="service")
    response = client.get(LIST, {"tab": "team"})
    assert _rows(response) == [theirs.pk]
    assert response.context["page"].rows[0].can_act  # their manager may mark it done


def test_add_a_task_for_me_a_colleague_or_the_queue(client_as):
    client = client_as("service")
    colleague = make_user("service")
    assert client.post(LIST, {"title": "Call Li Na", "due_at": "2026-03-10T16:30"}).status_code == 302
    mine = Task.objects.get(title="Call Li Na")
    assert (mine.assignee, mine.department, mine.due_at) == (client.user, "service", NOW + timedelta(hours=6.5))
    client.post(LIST, {"title": "Ask about the invoice", "assignee": colleague.pk})
    client.post(LIST, {"title": "Check the returns", "department": "service"})
    placed = dict(Task.objects.exclude(pk=mine.pk).values_list("title", "assignee"))
    assert placed == {"Ask about the invoice": colleague.pk, "Check the returns": None}

    refused = client.post(LIST, {"title": ""})
    assert refused.status_code == 422 and 'data-field="title"' in refused.content.decode()
    assert client.post(LIST, {"title": "Quote", "department": "sales"}).status_code == 403  # managers only
    assert Task.objects.count() == 3


def test_done_from_a_list_row_with_htmx_swaps_the_row(client_as):
    client = client_as("sales")
    task = TaskFactory(assignee=client.user, due_at=NOW)
    url = reverse("tasks:task-done", args=[task.pk])
    row = client.post(url, {"outcome": "Sent the quote"}, HTTP_HX_REQUEST="true")
    assert row.status_code == 200 and "HX-Request" in row["Vary"]
    html = row.content.decode()
    assert html.lstrip().startswith("<tr") and "Sent the quote" in html and 'data-testid="done-button"' not in html
    again = client.post(url, {"outcome": "Twice"}, HTTP_HX_REQUEST="true")
    assert again.status_code == 422 and "already done" in again.content.decode()  # htmx swaps 422 only
    assert Task.objects.get().outcome == "Sent the quote"


def test_done_with_a_plain_form_goes_back_where_it_came_from(client_as):
    client = client_as("service")
    follow_up = FollowUpTaskFactory(due_at=NOW)
    url = reverse("tasks:task-done", args=[follow_up.pk])
    missing = client.post(url, {"outcome": "", "next": f"{LIST}?tab=queue"})
    assert missing.status_code == 422 and "Say what was done." in missing.content.decode()  # on the task's page
    done = client.post(url, {"outcome": "Apologised", "next": f"{LIST}?tab=queue"})
    assert (done.status_code, done.url) == (302, f"{LIST}?tab=queue")
    assert client.post(
        reverse("tasks:task-done", args=[TaskFactory(assignee=client.user).pk]), {"next": "https://evil.example/"}
    ).url.startswith("/tasks/")


def test_a_tasks_page_edits_reopens_and_deletes(client_as):
    client = client_as("sales")
    lead = LeadFactory()
    task = TaskFactory(assignee=client.user, about_record=lead, notes="Bring the brochure")
    url = reverse("tasks:task-detail", args=[task.pk])
    page = client.get(url).content.decode()
    assert f'href="/leads/{lead.pk}/"' in page and "Bring the brochure" in page and 'id="edit"' in page
    saved = client.post(url, {"title": "Visit", "due_at": "2026-03-11T09:00", "notes": "", "department": ""})
    assert saved.status_code == 302
    task.refresh_from_db()
    assert (task.title, task.due_at, task.assignee) == ("Visit", NOW + timedelta(hours=23), client.user)
    assert client.post(url, {"title": ""}).status_code == 422
    client.post(reverse("tasks:task-done", args=[task.pk]), {"outcome": "Went"})
    assert 'id="done"' not in client.get(url).content.decode()
    client.post(reverse("tasks:task-reopen", args=[task.pk]))
    assert Task.objects.get().done_at is None
    assert client.post(reverse("tasks:task-delete", args=[task.pk])).url == LIST
    assert not Task.objects.exists()


def test_the_edit_button_reads_as_an_edit_in_chinese(client_as):
    """ "Change" the verb (修改) here; the review's "Change" column is the difference (变化), a msgid with context."""
    client = client_as("sales")
    task = TaskFactory(assignee=client.user)
    page = client.get(reverse("tasks:task-detail", args=[task.pk]), headers={"accept-language": "zh-hans"})
    assert "<summary>修改</summary>" in page.content.decode()


def test_someone_elses_task_is_read_only(client_as):
    client = client_as("sales")
    task = TaskFactory()  # a colleague's
    page = client.get(reverse("tasks:task-detail", args=[task.pk])).content.decode()
    assert 'id="done"' not in page and 'id="edit"' not in page
    for name, data in (("task-done", {"outcome": "x"}), ("task-reopen", {}), ("task-delete", {})):
        assert client.post(reverse(f"tasks:{name}", args=[task.pk]), data).status_code == 403, name
    assert client.post(reverse("tasks:task-detail", args=[task.pk]), {"title": "Mine"}).status_code == 403
    assert client.get(reverse("tasks:task-detail", args=[987654])).status_code == 404


@pytest.mark.parametrize("role", ROLES)
def test_every_role_has_my_tasks(client_as, role):
    client = client_as(role)
    assert client.get(LIST).status_code == 200
    assert client.get(reverse("tasks:task-detail", args=[TaskFactory().pk])).status_code == 200
    assert f'href="{LIST}"' in client.get("/").content.decode()  # the menu links it
    assert client.post(LIST, {"title": "Mine"}).status_code == 302


def test_people_outside_the_departments_get_the_403_page_and_strangers_the_login(client):
    task = TaskFactory()
    assert client.get(LIST).url.startswith(reverse("login"))
    client.force_login(UserFactory(groups=["manager"]))
    assert client.get(LIST).status_code == 403
    assert client.post(reverse("tasks:task-done", args=[task.pk])).status_code == 403


@pytest.mark.parametrize("n", [1, 30])
def test_my_tasks_costs_the_same_whatever_its_length(client_as, django_assert_max_num_queries, n):
    client = client_as("service_manager")
    for i in range(n):
        record = [LeadFactory, ComplaintFactory, lambda: None][i % 3]()
        TaskFactory(
            assignee=client.user, department="service", due_at=NOW - timedelta(hours=i + 1), about_record=record
        )
        TaskFactory(assignee=None, department="service", due_at=NOW + timedelta(hours=i), about_record=record)
    client.get(LIST)  # warm the per-process caches (content types, translations)
    # session, user, groups, the bell's unread count, the tab counts, the page, one label query per record kind
    for tab in ("overdue", "queue", "team"):
        with django_assert_max_num_queries(8):
            response = client.get(LIST, {"tab": tab})
        assert len(response.context["page"]) == (n if tab != "team" else n)


@pytest.mark.parametrize("n", [1, 30])
def test_the_follow_up_list_shows_each_follow_ups_record(client_as, django_assert_max_num_queries, n):
    client = client_as("service")
    answers = [FollowUpTaskFactory(due_at=NOW + timedelta(hours=i)).about for i in range(n)]
    client.get(reverse("feedback:follow-up-list"))
    with django_assert_max_num_queries(10):
        response = client.get(reverse("feedback:follow-up-list"))
    html = response.content.decode()
    assert html.count('data-testid="task-row"') == n
    assert f'href="/feedback/nps/{answers[0].pk}/"' in html
    assert client.get(f"/feedback/nps/{answers[0].pk}/").url == f"/feedback/nps/?customer={answers[0].customer_id}"


def test_the_home_page_shows_my_tasks_due_today_overdue_and_my_queue(client_as):
    client = client_as("service")
    TaskFactory(assignee=client.user, department="service", due_at=NOW - timedelta(days=1), title="Late call")
    TaskFactory(assignee=client.user, department="service", due_at=NOW + timedelta(hours=2), title="Noon call")
    TaskFactory(assignee=client.user, department="service", due_at=NOW + timedelta(days=3), title="Later call")
    TaskFactory(assignee=None, department="service", due_at=NOW + timedelta(hours=1), title="Queue call")
    html = client.get("/").content.decode()
    panel = html[html.index('data-panel="tasks"') :]
    panel = panel[: panel.index("</section>")]
    for title in ("Late call", "Noon call", "Queue call"):
        assert title in panel, title
    assert "Later call" not in panel
    assert 'data-testid="home-overdue"' in panel


def test_the_kind_shows_when_a_follow_up_has_no_title(client_as):
    client = client_as("service")
    FollowUpTaskFactory(due_at=NOW - timedelta(hours=1), assignee=client.user, kind=TaskKind.DETRACTOR)
    assert "Detractor follow-up" in client.get(LIST, {"tab": "overdue"}).content.decode()


def test_a_follow_up_keeps_showing_its_kind_when_its_due_time_changes(client_as):
    client = client_as("service")
    follow_up = FollowUpTaskFactory(due_at=NOW)
    url = reverse("tasks:task-detail", args=[follow_up.pk])
    saved = client.post(url, {"title": "", "due_at": "2026-03-12T09:00", "department": "service"})
    assert saved.status_code == 302
    follow_up.refresh_from_db()
    assert (follow_up.title, follow_up.due_at, follow_up.assignee) == ("", NOW + timedelta(days=1, hours=23), None)
    assert "Detractor follow-up" in client.get(url).content.decode()
