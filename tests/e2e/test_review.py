"""The quarterly process review in a browser: on a 390 px phone and a 1366 px laptop the page fits the screen (its
wide tables and the funnel chart scroll inside themselves, the page never does) and draws the funnel; a manager adds
an action for a person picked by name and sees its task; printed, the page drops the navigation and the form. No
rule of the Content-Security-Policy breaks."""

from datetime import date

import pytest
import time_machine
from playwright.sync_api import expect

from config.models import Task
from tests.factories import make_user
from tests.okr.conftest import at
from tests.okr.test_review import fixture  # noqa: F401 - the hand-computed quarter: every section filled

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PAGE = "/okr/reviews/2026Q3/"


@pytest.fixture(autouse=True)
def mid_november():
    with time_machine.travel(at(date(2026, 11, 15), 12), tick=True):
        yield


@pytest.mark.parametrize("width", [390, 1366])
def test_the_review_fits_the_screen_and_draws_the_funnel(browser, login, live_server, fixture, width):  # noqa: F811
    context = browser.new_context(viewport={"width": width, "height": 900}, locale="en-US")
    page = context.new_page()
    login(page, make_user("service"))
    page.goto(f"{live_server.url}{PAGE}")
    expect(page.locator("h1")).to_contain_text("2026Q3")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    box = page.locator("#funnel svg.chart").bounding_box()
    assert box and box["width"] > 200 and box["height"] > 40
    expect(page.locator("[data-testid=review-note-form]")).to_have_count(0)  # read only
    context.close()


def test_a_manager_adds_an_action_for_a_person_picked_by_name(browser, login, live_server):
    rep = make_user("sales", first_name="Mei", last_name="Lin")
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-US")
    page = context.new_page()
    login(page, make_user("sales_manager"))
    page.goto(f"{live_server.url}{PAGE}")
    form = page.locator("[data-testid=review-note-form]")
    form.get_by_role("radio", name="Action").check()
    form.locator("textarea[name=text]").fill("Call back every lost lead once.")
    form.locator(".picker input[type=search]").fill("Mei")
    form.get_by_label("Mei Lin").check()
    form.locator("input[name=due_at]").fill("2026-12-01T09:00")
    form.get_by_role("button", name="Add").click()
    task_line = page.locator("[data-testid=review-task]")
    expect(task_line).to_contain_text("Mei Lin")
    expect(task_line).to_have_attribute("data-done", "no")
    assert Task.objects.get().assignee == rep
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    page.emulate_media(media="print")
    expect(page.locator("header.topbar")).to_be_hidden()
    expect(page.locator("[data-testid=review-note-form]")).to_be_hidden()
    expect(page.locator("[data-testid=review-notes]")).to_be_visible()
    context.close()


def test_a_manager_reads_the_review_in_chinese(browser, login, live_server, fixture):  # noqa: F811
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")
    page = context.new_page()
    login(page, make_user("marketing_manager"))
    page.goto(f"{live_server.url}{PAGE}")
    page.click("button[name=language][value=zh-hans]")
    page.wait_for_load_state()
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page.locator("h1")).to_contain_text("2026Q3")
    expect(page.locator("main")).to_contain_text("季度")
    expect(page.locator("main")).not_to_contain_text("Cycle time")
    expect(page.locator("main")).not_to_contain_text("Quarterly")
    assert page.locator("#funnel svg.chart").bounding_box()["width"] > 200
    context.close()
