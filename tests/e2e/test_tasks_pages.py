"""My tasks in a browser: on a phone and on a laptop, add a task, mark it done from its row (htmx swaps the row),
and nothing is wider than the screen."""

import pytest
from playwright.sync_api import expect

from config.models import Task
from tests.factories import LeadFactory, TaskFactory, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("width", [390, 1366])
def test_add_a_task_and_mark_it_done_from_its_row(browser, login, live_server, width):
    context = browser.new_context(viewport={"width": width, "height": 900}, locale="en-US")
    page = context.new_page()
    user = make_user("sales", username=f"lin{width}")
    TaskFactory(assignee=user, title="Call about the long overdue quote for the warehouse", about_record=LeadFactory())
    login(page, user)
    page.goto(f"{live_server.url}/tasks/?tab=today")
    page.click("details.add-task summary")
    page.fill("input[name=title]", "Send the brochure")
    page.click("details.add-task button.primary")
    expect(page.locator(".messages")).to_contain_text("Task added.")

    page.goto(f"{live_server.url}/tasks/?tab=upcoming")
    row = page.locator("tr[data-testid=task-row]", has_text="Send the brochure")
    row.locator("input[name=outcome]").fill("Posted it")
    row.locator("button[data-testid=done-button]").click()
    expect(page.locator("tr[data-testid=task-row]", has_text="Posted it")).to_be_visible()  # swapped in place
    assert Task.objects.get(title="Send the brochure").outcome == "Posted it"
    assert page.evaluate("document.documentElement.scrollWidth") <= width

    page.goto(f"{live_server.url}/tasks/{Task.objects.get(title__startswith='Call').pk}/")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    context.close()
