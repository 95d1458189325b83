"""DESIGN.md's three demo journeys, end to end through the API that starts them: a sign-up gets a welcome message
and the content of their stage; a lead sales flags high intent gets decision-stage content and its owner a task; a
detractor gets an apology and service a task."""

import html
import re
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from config.models import Task
from marketing.models import Enrolment, EnrolmentStatus, Message, MessageStatus, StepRun
from tests.factories import CustomerFactory, CustomerIdentityFactory, lead_through, make_user
from tests.marketing.journey_support import NOW, committing, content, emailable, frozen_clock, live_journey

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock(settings):
    yield from frozen_clock(settings)


def test_sign_up_gets_a_welcome_and_the_content_of_their_stage(clock, api_as, django_capture_on_commit_callbacks):
    welcome = content("Welcome to Relay", stage="consideration")
    content("Getting started", stage="decision")
    guide = content("Why teams switch", stage="awareness")
    live_journey(
        [
            {"kind": "send", "content": welcome.pk, "channel": "email"},
            {"kind": "send", "content": "stage", "channel": "email"},
        ],
        name="Welcome",
        goal="activated",
    )
    with committing(django_capture_on_commit_callbacks):
        response = api_as("marketing").post(
            "/api/v1/events/",
            {
                "contact": {"name": "Ada", "email": "ada@example.com"},
                "type": "signed_up",
                "at": NOW.isoformat(),
                "source": "web",
                "external_id": "signup-1",
            },
            format="json",
        )
    assert response.status_code == 201, response.json()
    enrolment = Enrolment.objects.get()
    assert (enrolment.customer_id, enrolment.status) == (response.json()["customer"], EnrolmentStatus.COMPLETED)
    sent = list(Message.objects.order_by("pk").values_list("item_id", "status", "step_run__enrolment"))
    assert sent == [(welcome.pk, MessageStatus.SENT, enrolment.pk), (guide.pk, MessageStatus.SENT, enrolment.pk)]
    assert sorted(m.subject for m in mail.outbox) == ["Welcome to Relay A", "Why teams switch A"]
    assert [m.to for m in mail.outbox] == [["ada@example.com"], ["ada@example.com"]]


def test_high_intent_gets_decision_content_and_a_task_for_the_owner(clock, api_as, django_capture_on_commit_callbacks):
    decision = content("Pricing and ROI", stage="decision")
    live_journey(
        [
            {"kind": "send", "content": decision.pk, "channel": "email"},
            {"kind": "task", "title": "Book the demo", "due_hours": 24, "assignee": "owner"},
        ],
        trigger={"type": "lead.flagged_high_intent"},
        name="High intent",
        goal="order.placed",
    )
    customer = emailable("Bo")
    lead = lead_through("qualified", customer=customer)
    with committing(django_capture_on_commit_callbacks):
        response = api_as("sales", user=lead.owner).post(f"/api/v1/leads/{lead.pk}/flag-high-intent/")
    assert response.status_code == 200, response.json()

    message = Message.objects.get()
    assert (message.customer, message.item, message.status) == (customer, decision, MessageStatus.SENT)
    task = StepRun.objects.get(task__isnull=False).task
    assert (task.title, task.assignee, task.about, task.due_at) == (
        "Book the demo",
        lead.owner,
        customer,
        NOW + timedelta(hours=24),
    )


def test_a_detractor_gets_an_apology_and_service_a_task(clock, api_as, django_capture_on_commit_callbacks):
    apology = content("We are sorry", stage="loyalty")
    live_journey(
        [
            {"kind": "send", "content": apology.pk, "channel": "sms"},
            {"kind": "task", "title": "Call about the low score", "due_hours": 4, "assignee": "service"},
        ],
        trigger={"type": "nps.detractor"},
        name="Detractor recovery",
    )
    customer = CustomerFactory(name="Cy")
    CustomerIdentityFactory(customer=customer, kind="phone", value="+8613900001111")
    service = make_user("service")
    with committing(django_capture_on_commit_callbacks):
        response = api_as("service", user=service).post(
            "/api/v1/nps-responses/", {"customer": customer.pk, "score": 2, "comment": "Slow."}, format="json"
        )
        api_as("service", user=service).post(
            "/api/v1/nps-responses/", {"customer": CustomerFactory().pk, "score": 9}, format="json"
        )
    assert response.status_code == 201, response.json()

    message = Message.objects.get()
    assert (message.customer, message.item, message.channel, message.status) == (
        customer,
        apology,
        "sms",
        MessageStatus.SENT,
    )
    task = StepRun.objects.get(task__isnull=False).task
    assert (task.title, task.assignee, task.department, task.about, task.due_at) == (
        "Call about the low score",
        None,
        "service",
        customer,
        NOW + timedelta(hours=4),
    )
    assert Task.objects.filter(kind="detractor").count() == 1  # service's own follow-up stays as it was


def test_the_welcome_journey_from_sign_up_to_the_metrics(clock, api_as, client, django_capture_on_commit_callbacks):
    """Event in → message out → the customer opens it and clicks its link → activates (the goal) → the content
    metrics count one sent, opened, clicked and converted message."""
    welcome = content("Welcome to Relay", stage="consideration", urls=["https://example.com/offer"])
    live_journey([{"kind": "send", "content": welcome.pk, "channel": "email"}], name="Welcome", goal="activated")
    marketer = api_as("marketing")
    event = {"contact": {"name": "Ada", "email": "ada@example.com"}, "source": "web", "at": NOW.isoformat()}
    with committing(django_capture_on_commit_callbacks):
        signed_up = marketer.post(
            "/api/v1/events/", {**event, "type": "signed_up", "external_id": "signup-1"}, format="json"
        )
    assert signed_up.status_code == 201, signed_up.json()
    (email,) = mail.outbox
    body = email.alternatives[0][0] if email.alternatives else email.body
    pixel = re.search(r"https://relay\.example\.com(/m/o/[^\"' ]+\.gif)", body).group(1)
    link = html.unescape(re.search(r"https://relay\.example\.com(/m/c/[^\"' <>]+)", body).group(1))

    clock.shift(timedelta(hours=1))
    assert client.get(pixel).status_code == 200
    clicked = client.get(link)
    assert (clicked.status_code, clicked["Location"]) == (302, "https://example.com/offer")
    clock.shift(timedelta(days=2))
    with committing(django_capture_on_commit_callbacks):
        activated = marketer.post(
            "/api/v1/events/",
            {**event, "type": "activated", "external_id": "activate-1", "at": timezone.now().isoformat()},
            format="json",
        )
    assert activated.status_code == 201, activated.json()

    message = Message.objects.get()
    assert (message.opened_at, message.clicked_at) == (NOW + timedelta(hours=1), NOW + timedelta(hours=1))
    assert (message.converted_at, message.conversion_kind) == (NOW + timedelta(days=2, hours=1), "goal")
    day = timezone.localdate(NOW)
    period = {"start": day.isoformat(), "end": (day + timedelta(days=1)).isoformat(), "content": welcome.pk}
    for metric in ("content_open_rate", "content_click_rate", "content_conversion_rate"):
        answer = marketer.get(f"/api/v1/metrics/{metric}/", period)
        assert (answer.status_code, answer.json()["value"]) == (200, 1.0), (metric, answer.json())
    empty = marketer.get("/api/v1/metrics/content_open_rate/", {**period, "start": "2026-01-01", "end": "2026-01-02"})
    assert empty.json()["value"] is None
