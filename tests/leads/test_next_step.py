"""A lead's next step is a task: the owner sets it on the lead page (or replaces it), the page lists the lead's
open tasks with a done button, and a lead that leaves sales closes its next step."""

from datetime import datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from config.models import Task
from leads import services
from leads.stages import Stage
from tests.conftest import ROLES
from tests.factories import lead_through, make_user

pytestmark = pytest.mark.django_db

NOW = datetime.fromisoformat("2026-03-10T10:00:00+08:00")


def _set(client, lead, title="Send the quote", due="2026-03-12T15:00"):
    return client.post(
        reverse("leads:lead-action", args=[lead.pk, "next_step"]),
        {"next_step-title": title, "next_step-due_at": due, "seen_stage": lead.stage},
    )


@time_machine.travel(NOW, tick=False)
def test_the_owner_sets_and_replaces_the_next_step_on_the_lead_page(client_as):
    seller = make_user("sales")
    lead = lead_through(Stage.CONTACTED, owner=seller)
    client = client_as(user=seller)
    page = client.get(reverse("leads:lead-detail", args=[lead.pk])).content.decode()
    assert 'id="next_step"' in page and "No open task." in page

    assert _set(client, lead).status_code == 302
    step = Task.objects.get()
    assert (step.kind, step.about, step.assignee, step.department) == ("next_step", lead, seller, "sales")
    assert step.due_at == NOW + timedelta(days=2, hours=5)
    page = client.get(reverse("leads:lead-detail", args=[lead.pk])).content.decode()
    assert "Send the quote" in page and 'data-testid="done-button"' in page

    assert _set(client, lead, title="Book the demo", due="").status_code == 302  # replaces it: still one
    step = Task.objects.get()
    assert (step.title, step.due_at) == ("Book the demo", None)

    refused = _set(client, lead, title="")
    assert refused.status_code == 422 and 'data-field="title"' in refused.content.decode()

    done = client.post(
        reverse("tasks:task-done", args=[step.pk]), {"outcome": "Booked", "next": f"/leads/{lead.pk}/#tasks"}
    )
    assert done.url == f"/leads/{lead.pk}/#tasks"
    assert Task.objects.get().done_by == seller
    assert "No open task." in client.get(reverse("leads:lead-detail", args=[lead.pk])).content.decode()
    assert _set(client, lead, title="Sign").status_code == 302  # a new one after the done one
    assert [(t.title, t.done_at is None) for t in Task.objects.order_by("pk")] == [
        ("Book the demo", False),
        ("Sign", True),
    ]


@pytest.mark.parametrize("role", ROLES)
def test_who_sets_a_leads_next_step(client_as, role):
    seller = make_user("sales")
    lead = lead_through(Stage.QUALIFIED, owner=seller)
    client = client_as(role)
    may = role in ("sales_manager", "admin")  # besides the owner: the sales manager and admins
    page = client.get(reverse("leads:lead-detail", args=[lead.pk])).content.decode()
    assert ('id="next_step"' in page) == may
    assert _set(client, lead).status_code == (302 if may else 403)
    if may:
        assert Task.objects.get().assignee == seller  # always the owner's
    else:
        assert not Task.objects.exists()


def test_the_api_and_the_page_share_the_rule(api_as):
    seller = make_user("sales")
    lead = lead_through(Stage.PROPOSAL, owner=seller)
    api = api_as(user=seller)
    about = {"type": "lead", "id": lead.pk}
    first = api.post("/api/v1/tasks/", {"title": "Call", "kind": "next_step", "about": about}, format="json")
    second = api.post("/api/v1/tasks/", {"title": "Visit", "kind": "next_step", "about": about}, format="json")
    assert first.json()["id"] == second.json()["id"] and Task.objects.get().title == "Visit"
    listed = api.get("/api/v1/tasks/", {"about": f"lead:{lead.pk}", "kind": "next_step"}).json()["results"]
    assert [t["title"] for t in listed] == ["Visit"]


def test_a_lead_out_of_sales_hands_has_no_next_step():
    seller = make_user("sales")
    lead = lead_through(Stage.NEGOTIATION, owner=seller)
    services.set_next_step(lead=lead, by=seller, title="Sign the contract")
    services.close_lead(lead=lead, by=seller, outcome=Stage.LOST, reason="price")
    step = Task.objects.get(kind="next_step")
    assert step.done_at is not None and step.done_by is None and "Lost" in step.outcome
    with pytest.raises(services.InvalidTransition):  # nor may it get one
        services.set_next_step(lead=lead, by=seller, title="Try again")


def test_rejecting_a_lead_closes_its_next_step():
    seller = make_user("sales")
    lead = lead_through(Stage.HANDED_OFF, owner=seller)
    services.set_next_step(lead=lead, by=seller, title="Check the budget")
    services.reject_lead(lead=lead, by=seller, reason="no_budget")
    assert Task.objects.get().done_at is not None


def test_the_lead_page_costs_the_same_with_many_tasks(client_as):
    seller = make_user("sales")
    lead = lead_through(Stage.CONTACTED, owner=seller)
    client = client_as(user=seller)

    def count():
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("leads:lead-detail", args=[lead.pk])).status_code == 200
        return len(queries)

    services.set_next_step(lead=lead, by=seller, title="Call")
    count()
    few = count()
    for i in range(10):
        services.set_next_step(lead=lead, by=seller, title=f"Call {i}")
        Task.objects.create(title=f"Extra {i}", assignee=seller, department="sales", about=lead)
    assert count() == few
