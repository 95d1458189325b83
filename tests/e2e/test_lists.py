"""The list tools in a real browser, on a phone (390 px) and a laptop (1366 px): the top bar's live search, sorting
headers, saved views and the lead list's bulk handoff (its "every lead on this page" box)."""

import pytest

from customers.models import IdentityKind
from leads.models import Lead
from leads.stages import Stage
from tests.factories import CustomerFactory, CustomerIdentityFactory, LeadFactory, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("device", ["phone", "laptop"])
def test_the_top_bar_finds_a_customer_by_phone_as_you_type(request, device, login, live_server):
    page = request.getfixturevalue(device)
    customer = CustomerFactory(name="Zhang Wei")
    CustomerIdentityFactory(customer=customer, kind=IdentityKind.PHONE, value="+8613800138000")
    login(page, make_user("service"))
    box = page.locator("form.topsearch input[name=q]")
    assert box.is_visible()  # on a phone too, without opening the menu
    box.fill("138 0013 8000")
    hit = page.locator(".topsearch-results a[data-testid=search-hit]").first
    hit.wait_for()
    assert hit.inner_text() == "Zhang Wei"
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]
    page.keyboard.press("Escape")
    assert page.locator(".topsearch-results a").count() == 0
    box.fill("Zhang")
    box.press("Enter")  # the whole results page, the same without a script
    page.wait_for_url(f"{live_server.url}/search/?q=Zhang")
    page.click("main a[data-testid=search-hit]")
    page.wait_for_url(f"{live_server.url}/customers/{customer.pk}/")


@pytest.mark.parametrize("device", ["phone", "laptop"])
def test_the_lead_list_sorts_saves_a_view_and_fits_the_screen(request, device, login, live_server):
    page = request.getfixturevalue(device)
    LeadFactory(stage=Stage.WON)
    LeadFactory(stage=Stage.NEW)
    login(page, make_user("sales"))
    page.goto(f"{live_server.url}/leads/")
    page.click("th a[data-testid=sort-link]:has-text('Stage')")
    page.wait_for_url("**/leads/?sort=stage")
    assert page.locator("th[aria-sort=ascending]").inner_text().startswith("Stage")
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]
    page.click("details.saved-views > summary")
    page.fill("#saved-view-name", "By stage")
    page.click("text=Save this view")
    page.wait_for_url("**/leads/?sort=stage")
    page.goto(f"{live_server.url}/leads/")
    page.click("details.saved-views > summary")
    page.click("a[data-testid=saved-view]:has-text('By stage')")
    page.wait_for_url("**/leads/?sort=stage")


def test_every_lead_on_the_page_is_handed_off_to_the_pool(laptop, login, live_server):
    marketer = make_user("marketing")
    leads = []
    for _ in range(3):
        lead = LeadFactory(created_by=marketer)
        CustomerIdentityFactory(customer=lead.customer)
        leads.append(lead)
    login(laptop, marketer)
    laptop.goto(f"{live_server.url}/leads/")
    laptop.check("input[data-select-all]")
    assert laptop.locator("input[name=lead]:checked").count() == 3  # the script ticks each row
    with laptop.expect_navigation():
        laptop.click("button[name=action][value=handoff]")
    assert laptop.url == f"{live_server.url}/leads/"
    assert "3 leads handed off." in laptop.content()
    assert Lead.objects.filter(stage=Stage.HANDED_OFF, owner=None).count() == 3
