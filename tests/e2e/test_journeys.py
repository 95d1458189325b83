"""The journey builder in a browser: on a 390 px phone and a 1366 px laptop the journey page fits the screen, a
marketing manager adds a step with its form and moves it up (htmx swaps the steps in place), then activates the
journey, without breaking any rule of the Content-Security-Policy."""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from marketing import journeys
from marketing.models import Enrolment, JourneyStatus, JourneyStep, StepRun
from tests.factories import ContentItemFactory, ContentVariantFactory, CustomerFactory, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("width", [390, 1366])
def test_the_journey_page_fits_and_builds_with_htmx(browser, login, live_server, width):
    manager = make_user("marketing_manager", username=f"jo{width}")
    item = ContentItemFactory(title="A rather long welcome message title that has to wrap on a phone")
    ContentVariantFactory(item=item)
    journey = journeys.create_journey(
        by=manager,
        name="Welcome new sign-ups",
        trigger={"type": "signed_up"},
        audience={"stage": ["awareness", "consideration"]},
        steps=[{"kind": "send", "content": item.pk, "channel": "email"}, {"kind": "wait", "hours": 24}],
        goal="activated",
    )
    send = journey.steps.get(kind="send")
    for index in range(3):
        enrolment = Enrolment.objects.create(
            journey=journey, customer=CustomerFactory(), trigger_key=f"k{index}", entered_at=timezone.now()
        )
        StepRun.objects.create(enrolment=enrolment, step=send, started_at=timezone.now(), status="done", note="ok")

    context = browser.new_context(viewport={"width": width, "height": 900}, locale="en-US")
    page = context.new_page()
    login(page, manager)
    page.goto(f"{live_server.url}/marketing/journeys/")
    page.click(f"a[href='/marketing/journeys/{journey.pk}/']")
    expect(page.locator("[data-testid=enrolment]")).to_have_count(3)
    assert page.evaluate("document.documentElement.scrollWidth") <= width

    page.click("[data-testid=add-task] summary")
    page.fill("#id_task_title", "Call them")
    page.fill("#id_task_due_hours", "4")
    page.select_option("#id_task_assignee", "sales")
    page.locator("[data-testid=add-task] button.primary").click()
    expect(page.locator("[data-testid=step]")).to_have_count(3)
    page.locator("[data-testid=step]").nth(2).locator("[data-testid=step-up]").click()
    expect(page.locator("[data-testid=step]").nth(1)).to_contain_text("Call them")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert list(JourneyStep.objects.filter(journey=journey).order_by("position").values_list("kind", flat=True)) == [
        "send",
        "task",
        "wait",
    ]

    page.click("[data-testid=journey-activate]")
    expect(page.locator("[data-testid=status]")).to_have_text("Active")
    journey.refresh_from_db()
    assert journey.status == JourneyStatus.ACTIVE
    context.close()
