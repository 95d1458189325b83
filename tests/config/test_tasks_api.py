"""`/api/v1/tasks/`: CRUD, `done/`, the filters, bad input named by field, a fixed number of queries, every role."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from config.models import Task, TaskKind
from tests.conftest import ROLES
from tests.factories import (
    ComplaintFactory,
    CustomerFactory,
    FollowUpTaskFactory,
    LeadFactory,
    TaskFactory,
    make_user,
)

pytestmark = pytest.mark.django_db

URL = "/api/v1/tasks/"
NOW = timezone.now()


def _errors(response) -> dict[str, str]:
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    return {e["field"]: e["code"] for e in response.json()["errors"]}


def test_create_read_update_done_and_delete(api_as):
    api = api_as("sales")
    lead = LeadFactory(owner=api.user)
    due = (NOW + timedelta(days=2)).replace(microsecond=0)
    created = api.post(
        URL,
        {
            "title": "Send the quote",
            "notes": "With the discount",
            "due_at": due.isoformat(),
            "about": {"type": "lead", "id": lead.pk},
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["title"] == "Send the quote" and body["kind"] == "general"
    assert (body["assignee"], body["department"], body["created_by"]) == (api.user.pk, "sales", api.user.pk)  # yours
    label = f"#{lead.pk} · {lead.customer.name} · Product demo · New"
    assert body["about"] == {"type": "lead", "id": lead.pk, "label": label}
    assert datetime.fromisoformat(body["due_at"]) == due and body["is_overdue"] is False
    url = f"{URL}{body['id']}/"

    read = api.get(url)
    assert read.json() == body and read["ETag"]
    changed = api.patch(url, {"title": "Send the revised quote", "due_at": None}, format="json")
    assert (changed.json()["title"], changed.json()["due_at"]) == ("Send the revised quote", None)
    replaced = api.put(url, {"title": "Only this"}, format="json")  # PUT replaces: every field is needed
    assert set(_errors(replaced)) == {"notes", "due_at", "assignee", "department"}

    done = api.post(f"{url}done/", {"outcome": "Sent by email"}, format="json")
    assert (
        done.status_code == 200 and done.json()["outcome"] == "Sent by email" and done.json()["done_by"] == api.user.pk
    )
    again = api.post(f"{url}done/", {"outcome": "Sent twice?"}, format="json")
    assert (again.status_code, again.json()["code"], again.json()["errors"][0]["field"]) == (
        409,
        "already_done",
        "outcome",
    )
    assert Task.objects.get().outcome == "Sent by email"
    reopened = api.post(f"{url}reopen/")
    assert reopened.status_code == 200 and reopened.json()["done_at"] is None

    assert api.delete(url).status_code == 204
    assert not Task.objects.exists()


def test_a_queue_task_and_a_task_for_a_colleague(api_as):
    api = api_as("service")
    colleague = make_user("service")
    queued = api.post(URL, {"title": "Call back", "assignee": None, "department": "service"}, format="json")
    assert (queued.json()["assignee"], queued.json()["department"]) == (None, "service")
    given = api.post(URL, {"title": "Call back", "assignee": colleague.pk}, format="json")
    assert (given.json()["assignee"], given.json()["department"]) == (colleague.pk, "service")
    elsewhere = api.post(URL, {"title": "Quote", "assignee": None, "department": "sales"}, format="json")
    assert elsewhere.status_code == 403 and Task.objects.count() == 2


@pytest.mark.parametrize(
    ("payload", "fields"),
    [
        ({}, {"title": "required"}),
        ({"title": 5}, {"title": "invalid"}),
        ({"title": "x" * 201}, {"title": "max_length"}),
        ({"title": "x", "about": {"type": "planet", "id": 1}}, {"about.type": "invalid"}),
        ({"title": "x", "about": {"type": "lead", "id": 987654}}, {"about.id": "does_not_exist"}),
        ({"title": "x", "about": {"type": "lead", "id": "x"}}, {"about.id": "invalid"}),
        ({"title": "x", "about": {"type": "lead"}}, {"about.id": "required"}),
        ({"title": "x", "about": "lead:1"}, {"about": "invalid"}),
        ({"title": "x", "kind": "detractor"}, {"kind": "invalid_choice"}),
        ({"title": "x", "kind": "next_step"}, {"about": "required"}),
        ({"title": "x", "due_at": "tomorrow"}, {"due_at": "invalid"}),
        ({"title": "x", "assignee": 987654}, {"assignee": "does_not_exist"}),
        ({"title": "x", "assignee": None}, {"department": "required"}),
        ({"title": "x", "department": "finance"}, {"department": "invalid_choice"}),
    ],
)
def test_bad_input_is_a_400_naming_the_field(api_as, payload, fields):
    assert _errors(api_as("sales").post(URL, payload, format="json")) == fields
    assert not Task.objects.exists()


def test_the_about_kinds_are_every_record_kind(api_as):
    api = api_as("service")
    records = {
        "lead": LeadFactory(),
        "customer": CustomerFactory(name="Zhou Min"),
        "complaint": ComplaintFactory(),
        "nps_response": FollowUpTaskFactory().about,
    }
    for kind, record in records.items():
        response = api.post(URL, {"title": "Look", "about": {"type": kind, "id": record.pk}}, format="json")
        assert response.status_code == 201, (kind, response.json())
        about = response.json()["about"]
        assert (about["type"], about["id"]) == (kind, record.pk) and about["label"]
    listed = api.get(URL, {"about": f"customer:{records['customer'].pk}"}).json()["results"]
    assert len(listed) == 1 and listed[0]["about"]["label"].startswith("Zhou Min")


def test_filters(api_as):
    api = api_as("sales")
    me, colleague = api.user, make_user("sales")
    lead = LeadFactory()
    mine = TaskFactory(assignee=me, due_at=NOW - timedelta(hours=1), about_record=lead)  # overdue
    later = TaskFactory(assignee=me, due_at=NOW + timedelta(days=3), kind=TaskKind.REVIEW_ACTION)
    done = TaskFactory(assignee=me, due_at=NOW - timedelta(days=1), done_at=NOW)
    theirs = TaskFactory(assignee=colleague, due_at=NOW + timedelta(hours=2))
    queued = TaskFactory(assignee=None, department="service", due_at=None)

    def ids(**params):
        response = api.get(URL, params)
        assert response.status_code == 200, response.json()
        return {t["id"] for t in response.json()["results"]}

    assert ids() == {mine.pk, later.pk, done.pk, theirs.pk, queued.pk}
    assert ids(assignee="me") == {mine.pk, later.pk, done.pk}
    assert ids(assignee="me", is_done="false") == {mine.pk, later.pk}
    assert ids(assignee=colleague.pk) == {theirs.pk}
    assert ids(assignee="none") == ids(department="service") == {queued.pk}
    assert ids(is_done="true") == {done.pk}
    assert ids(is_overdue="true") == {mine.pk}
    assert ids(due_before=NOW.isoformat()) == {mine.pk, done.pk}
    assert ids(due_after=NOW.isoformat(), due_before=(NOW + timedelta(days=1)).isoformat()) == {theirs.pk}
    assert ids(kind="review_action") == {later.pk}
    assert ids(about=f"lead:{lead.pk}") == {mine.pk}
    overdue = api.get(URL, {"assignee": "me", "is_overdue": "true"}).json()["results"]
    assert [t["is_overdue"] for t in overdue] == [True]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"assignee": "her"}, "assignee"),
        ({"assignee": "1.5"}, "assignee"),
        ({"about": "lead"}, "about"),
        ({"about": "planet:3"}, "about"),
        ({"about": "lead:x"}, "about"),
        ({"due_before": "soon"}, "due_before"),
        ({"department": "finance"}, "department"),
        ({"kind": "chore"}, "kind"),
    ],
)
def test_a_bad_filter_is_a_400_naming_it(api_as, params, field):
    assert field in _errors(api_as("sales").get(URL, params))


@pytest.mark.parametrize("n", [1, 30])
def test_the_list_costs_the_same_whatever_its_length(api_as, django_assert_max_num_queries, n):
    api = api_as("service")
    for i in range(n):  # tasks about three kinds of record, and free-standing ones
        record = [LeadFactory, ComplaintFactory, CustomerFactory, lambda: None][i % 4]()
        TaskFactory(assignee=api.user, department="service", about_record=record)
    api.get(URL)  # warm the per-process content type cache
    # user's groups, the page, and one label query per kind of record on it (lead, complaint, customer)
    with django_assert_max_num_queries(5):
        response = api.get(URL, {"page_size": 50})
    assert len(response.json()["results"]) == n
    with django_assert_max_num_queries(5):
        assert api.get(URL, {"assignee": "me", "is_done": "false"}).status_code == 200


def test_cursor_pages_walk_every_task_once(api_as):
    api = api_as("sales")
    TaskFactory.create_batch(7, assignee=api.user)
    seen, url = [], f"{URL}?page_size=3"
    while url:
        body = api.get(url).json()
        seen += [t["id"] for t in body["results"]]
        url = body["next"]
    assert seen == sorted(Task.objects.values_list("pk", flat=True), reverse=True)


@pytest.mark.parametrize("role", ROLES)
def test_every_role_on_every_path(api_as, role):
    api = api_as(role)
    seller = make_user("sales")
    theirs = TaskFactory(assignee=seller)
    queued = TaskFactory(assignee=None, department="sales")
    # every staff member reads every task
    assert api.get(URL).status_code == 200
    assert api.get(f"{URL}{theirs.pk}/").status_code == 200
    # everyone gives themselves a task
    own = api.post(URL, {"title": "Mine"}, format="json")
    assert own.status_code == 201
    assert api.post(f"{URL}{own.json()['id']}/done/", {}, format="json").status_code == 200
    # someone else's task: their manager and admins; a queue task: its department too
    may_work_theirs = role in ("sales_manager", "admin")
    may_work_queue = role in ("sales", "sales_manager", "admin")
    expected = {True: 200, False: 403}
    assert api.patch(f"{URL}{theirs.pk}/", {"notes": "x"}, format="json").status_code == expected[may_work_theirs]
    assert api.post(f"{URL}{theirs.pk}/done/", {}, format="json").status_code == expected[may_work_theirs]
    assert api.post(f"{URL}{queued.pk}/done/", {}, format="json").status_code == expected[may_work_queue]
    assert api.delete(f"{URL}{queued.pk}/").status_code == (204 if may_work_queue else 403)
    assert Task.objects.filter(pk=theirs.pk, done_at__isnull=not may_work_theirs).exists()


def test_people_outside_the_departments_and_strangers_are_refused(api_as):
    task = TaskFactory()
    assert APIClient().get(URL).status_code in (401, 403)
    nobody = api_as(user=make_user("sales", username="x"))
    nobody.user.groups.clear()
    assert nobody.get(URL).status_code == 403
    assert nobody.post(f"{URL}{task.pk}/done/").status_code == 403


def test_the_nps_answer_names_its_follow_up_task(api_as):
    api = api_as("service")
    response = api.post("/api/v1/nps-responses/", {"customer": CustomerFactory().pk, "score": 2}, format="json")
    task = Task.objects.get(kind="detractor")
    assert response.json()["follow_up"] == task.pk
    body = api.get(f"{URL}{task.pk}/").json()
    assert body["about"]["type"] == "nps_response" and body["title"] == "Detractor follow-up"
    assert api.post(f"{URL}{task.pk}/done/", {"outcome": ""}, format="json").status_code == 400  # say what was done
