"""The journey builder pages: the list with its counts, a journey's page with its steps (add per kind, move, remove;
with htmx and without), its settings, activate and pause for marketing's managers, and its enrolments with their
step log at a fixed number of queries."""

import pytest
from django.urls import reverse

from marketing.models import Enrolment, Journey, JourneyStatus, JourneyStep, StepRun
from tests.factories import CustomerFactory, JourneyFactory, JourneyStepFactory
from tests.marketing.journey_support import NOW, content, frozen_clock, live_journey

pytestmark = pytest.mark.django_db

WRITERS = ["marketing", "marketing_manager", "admin"]
OTHERS = ["sales", "service", "sales_manager", "service_manager"]
MANAGERS = ["marketing_manager", "admin"]
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def clock(settings):
    yield from frozen_clock(settings)


def _kinds(journey) -> list[str]:
    return list(
        JourneyStep.objects.filter(journey=journey, is_removed=False)
        .order_by("position")
        .values_list("kind", flat=True)
    )


@pytest.mark.parametrize("role", [*WRITERS, *OTHERS])
def test_everyone_reads_the_list_and_a_journey(clock, client_as, role):
    journey = live_journey([{"kind": "wait", "hours": 1}], name="Welcome")
    client = client_as(role)
    listed = client.get(reverse("marketing:journey-list"))
    assert listed.status_code == 200 and "Welcome" in listed.content.decode()
    page = client.get(reverse("marketing:journey-detail", args=[journey.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert ('data-testid="add-wait"' in html) == (role in WRITERS)
    assert ('data-testid="journey-pause"' in html) == (role in MANAGERS)
    assert ('data-testid="journey-create"' in listed.content.decode()) == (role in WRITERS)


@pytest.mark.parametrize("role", [*WRITERS, *OTHERS])
def test_only_marketing_builds(clock, client_as, role):
    client = client_as(role)
    journey = JourneyFactory()
    allowed = role in WRITERS
    assert client.get(reverse("marketing:journey-create")).status_code == (200 if allowed else 403)
    response = client.post(
        reverse("marketing:journey-create"), {"name": "New", "trigger_type": "signed_up", "goal": "activated"}
    )
    assert response.status_code == (302 if allowed else 403)
    added = client.post(reverse("marketing:journey-step-add", args=[journey.pk]), {"kind": "wait", "hours": "6"})
    assert added.status_code == (302 if allowed else 403)
    assert client.get(reverse("marketing:journey-edit", args=[journey.pk])).status_code == (200 if allowed else 403)
    assert _kinds(journey) == (["wait"] if allowed else [])


@pytest.mark.parametrize("role", [*WRITERS, *OTHERS])
def test_only_marketing_managers_activate_and_pause(clock, client_as, role):
    journey = JourneyFactory()
    JourneyStepFactory(journey=journey)
    client = client_as(role)
    activated = client.post(reverse("marketing:journey-activate", args=[journey.pk]))
    journey.refresh_from_db()
    if role not in MANAGERS:
        assert activated.status_code == 403 and journey.status == JourneyStatus.DRAFT
        return
    assert activated.status_code == 302 and journey.status == JourneyStatus.ACTIVE
    client.post(reverse("marketing:journey-pause", args=[journey.pk]))
    journey.refresh_from_db()
    assert journey.status == JourneyStatus.PAUSED


def test_creating_a_journey_on_the_page(clock, client_as):
    client = client_as("marketing")
    response = client.post(
        reverse("marketing:journey-create"),
        {
            "name": "Decision nudge",
            "trigger_type": "lifecycle.changed",
            "trigger_stage": "decision",
            "audience_segment": ["loyal", "champions"],
            "audience_tags": "vip, webinar",
            "goal": "custom",
            "goal_custom": "demo_booked",
            "reentry": "on",
        },
    )
    journey = Journey.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "marketing:journey-detail", args=[journey.pk]
    )
    assert (journey.trigger, journey.audience, journey.goal, journey.reentry, journey.status) == (
        {"type": "lifecycle.changed", "stage": "decision"},
        {"segment": ["loyal", "champions"], "tags": ["vip", "webinar"]},
        "custom:demo_booked",
        True,
        JourneyStatus.DRAFT,
    )
    html = client.get(response["Location"]).content.decode()
    assert '<dd data-testid="trigger">Lifecycle stage changes → Decision</dd>' in html
    assert '<span class="muted">RFM segments:</span> Loyal, Champions' in html
    assert '<span class="muted">Lead tags:</span> vip, webinar' in html


def test_a_refused_setting_shows_on_its_field(clock, client_as):
    client = client_as("marketing")
    response = client.post(
        reverse("marketing:journey-create"),
        {"name": "X", "trigger_type": "custom", "trigger_custom": "Not A Name!"},
    )
    assert response.status_code == 422
    assert 'data-field="trigger_type"' in response.content.decode()
    assert not Journey.objects.exists()


def test_editing_the_settings(clock, client_as):
    journey = JourneyFactory(name="Old", trigger={"type": "signed_up"})
    client = client_as("marketing")
    form = client.get(reverse("marketing:journey-edit", args=[journey.pk]))
    assert 'value="Old"' in form.content.decode()
    response = client.post(
        reverse("marketing:journey-edit", args=[journey.pk]),
        {"name": "New", "trigger_type": "nps.detractor", "goal": ""},
    )
    assert response.status_code == 302
    journey.refresh_from_db()
    assert (journey.name, journey.trigger) == ("New", {"type": "nps.detractor"})


def test_adding_moving_and_removing_steps_with_htmx(clock, client_as):
    item = content("Hello")
    journey = JourneyFactory()
    client = client_as("marketing")
    add = reverse("marketing:journey-step-add", args=[journey.pk])
    response = client.post(add, {"kind": "send", "content": str(item.pk), "channel": "email"}, **HTMX)
    assert response.status_code == 200 and response.templates[0].name == "marketing/_journey_steps.html"
    assert "Send “Hello”" in response.content.decode()
    client.post(add, {"kind": "task", "title": "Call", "due_hours": "4", "assignee": "owner", "position": "0"}, **HTMX)
    assert _kinds(journey) == ["task", "send"]

    send = JourneyStep.objects.get(journey=journey, kind="send")
    client.post(reverse("marketing:journey-step-move", args=[journey.pk, send.pk]), {"direction": "up"}, **HTMX)
    assert _kinds(journey) == ["send", "task"]
    client.post(reverse("marketing:journey-step-remove", args=[journey.pk, send.pk]), **HTMX)
    assert _kinds(journey) == ["task"]
    assert not JourneyStep.objects.filter(pk=send.pk).exists()  # a draft that never ran: gone


def test_a_refused_step_shows_on_its_field_with_htmx_and_without(clock, client_as):
    journey = JourneyFactory()
    client = client_as("marketing")
    add = reverse("marketing:journey-step-add", args=[journey.pk])
    partial = client.post(add, {"kind": "wait", "hours": "-1"}, **HTMX)
    assert partial.status_code == 422
    html = partial.content.decode()
    assert 'data-field="hours"' in html and "above 0" in html and 'open data-testid="add-wait"' in html
    page = client.post(add, {"kind": "send", "channel": "email", "content": "999999"})
    assert page.status_code == 422 and 'data-field="content"' in page.content.decode()
    assert not JourneyStep.objects.exists()


def test_removing_a_step_of_a_journey_that_ran_keeps_it_marked(clock, client_as):
    journey = live_journey([{"kind": "wait", "hours": 1}, {"kind": "tag", "tag": "x"}])
    wait = journey.steps.get(kind="wait")
    response = client_as("marketing").post(reverse("marketing:journey-step-remove", args=[journey.pk, wait.pk]))
    assert response.status_code == 302
    wait.refresh_from_db()
    assert wait.is_removed and _kinds(journey) == ["tag"]


def test_the_list_shows_each_journeys_counts(clock, client_as):
    journey = JourneyFactory(name="Counted", status=JourneyStatus.ACTIVE)
    for index, status in enumerate(["active", "converted", "converted", "exited"]):
        Enrolment.objects.create(
            journey=journey, customer=CustomerFactory(), status=status, entered_at=NOW, trigger_key=f"k{index}"
        )
    html = client_as("sales").get(reverse("marketing:journey-list")).content.decode()
    for name, value in [("entered", 4), ("active", 1), ("converted", 2), ("completed", 0), ("exited", 1)]:
        assert f'data-testid="{name}">{value}</td>' in html


@pytest.mark.parametrize("n", [1, 20])
def test_the_list_queries_do_not_grow(clock, client_as, django_assert_max_num_queries, n):
    client = client_as("sales")
    for index in range(n):
        journey = JourneyFactory()
        Enrolment.objects.create(journey=journey, customer=CustomerFactory(), entered_at=NOW, trigger_key=f"k{index}")
    with django_assert_max_num_queries(5):  # session, user, groups, journeys with their counts, unread notifications
        response = client.get(reverse("marketing:journey-list"))
    assert response.content.decode().count('data-testid="journey-row"') == n


@pytest.mark.parametrize("n", [1, 20])
def test_the_journey_page_queries_do_not_grow(clock, client_as, django_assert_max_num_queries, n):
    item = content()
    journey = live_journey([{"kind": "send", "content": item.pk, "channel": "email"}, {"kind": "wait", "hours": 1}])
    steps = list(journey.steps.order_by("position"))
    for index in range(n):
        enrolment = Enrolment.objects.create(
            journey=journey, customer=CustomerFactory(name=f"C{index}"), entered_at=NOW, trigger_key=f"k{index}"
        )
        for step in steps:
            StepRun.objects.create(enrolment=enrolment, step=step, started_at=NOW, status="done", note="ok")
    client = client_as("marketing")
    # session, user, groups, the journey with its counts, its live steps, the active content, the enrolments with
    # their customers, their runs (with steps, messages, tasks), unread notifications
    with django_assert_max_num_queries(9):
        response = client.get(reverse("marketing:journey-detail", args=[journey.pk]))
    html = response.content.decode()
    assert html.count('data-testid="enrolment"') == n
    assert html.count("Step 2: Wait") == n


def test_the_enrolments_filter_and_page_with_htmx(clock, client_as):
    journey = live_journey([{"kind": "wait", "hours": 1}])
    for index, status in enumerate(["active", "converted"]):
        Enrolment.objects.create(
            journey=journey,
            customer=CustomerFactory(name=f"C{status}"),
            status=status,
            entered_at=NOW,
            trigger_key=f"k{index}",
        )
    response = client_as("sales").get(
        reverse("marketing:journey-detail", args=[journey.pk]) + "?status=converted",
        HTTP_HX_TARGET="journey-enrolments",
        **HTMX,
    )
    assert response.templates[0].name == "marketing/_journey_enrolments.html"
    html = response.content.decode()
    assert "Cconverted" in html and "Cactive" not in html


@pytest.mark.parametrize("role", ["marketing", "marketing_manager"])
def test_the_admin_shows_journeys_and_only_managers_activate_them(clock, client_as, role):
    journey = JourneyFactory(name="From the admin")
    JourneyStepFactory(journey=journey)
    client = client_as(role)
    changelist = reverse("admin:marketing_journey_changelist")
    page = client.get(changelist)
    assert page.status_code == 200 and "From the admin" in page.content.decode()
    assert client.get(reverse("admin:marketing_journey_change", args=[journey.pk])).status_code == 200
    client.post(changelist, {"action": "activate_journeys", "_selected_action": [journey.pk]})
    journey.refresh_from_db()
    assert journey.status == (JourneyStatus.ACTIVE if role == "marketing_manager" else JourneyStatus.DRAFT)


def test_an_admin_action_names_the_journey_that_blocked_it(clock, client_as):
    ready, empty = JourneyFactory(name="Ready"), JourneyFactory(name="Empty")
    JourneyStepFactory(journey=ready)
    client = client_as("marketing_manager")
    response = client.post(
        reverse("admin:marketing_journey_changelist"),
        {"action": "activate_journeys", "_selected_action": [ready.pk, empty.pk]},
        follow=True,
    )
    assert "Journey “Empty”: Add at least one step" in response.content.decode()
    assert set(Journey.objects.values_list("status", flat=True)) == {JourneyStatus.DRAFT}  # none of them
