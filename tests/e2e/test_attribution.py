"""The channel report's attribution switch in a browser: choosing a model and pressing Show keeps it (and the period),
the table follows it, the comparison shows every model, and on a 390 px phone the page itself never scrolls
sideways (the wide comparison scrolls inside its frame)."""

from datetime import date
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from tests.factories import (
    ChannelFactory,
    ChannelSpendFactory,
    CustomerFactory,
    OrderFactory,
    TouchpointFactory,
    make_user,
)
from tests.okr.conftest import at, history

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PERIOD = "?start=2026-03-01&end=2026-04-01"


def _won_through_ads_and_web():
    ads, web = ChannelFactory(code="ads", name="Ads"), ChannelFactory(code="web", name="Website")
    for channel in (ads, web):
        ChannelSpendFactory(channel=channel, month=date(2026, 3, 1), amount=Decimal("1000"))
    customer = CustomerFactory()
    history(("negotiation", "won", at(date(2026, 3, 20))), customer=customer, source_channel=web)
    OrderFactory(customer=customer, amount=Decimal("3000"), ordered_at=at(date(2026, 3, 20)), channel=web)
    TouchpointFactory(customer=customer, channel=ads, at=at(date(2026, 3, 1)))  # the first touch
    TouchpointFactory(customer=customer, channel=web, at=at(date(2026, 3, 19)))


@pytest.mark.parametrize("width", [390, 1366])
def test_switching_the_model_keeps_it_and_the_page_fits(browser, login, live_server, width):
    _won_through_ads_and_web()
    context = browser.new_context(viewport={"width": width, "height": 900}, locale="en-US")
    page = context.new_page()
    login(page, make_user("marketing"))
    page.goto(f"{live_server.url}/okr/reports/channels/{PERIOD}")
    ads = page.locator("main table").first.locator('tr[data-channel="ads"]')
    expect(ads).to_contain_text("-100 %")  # lead source: the web lead takes the whole customer

    page.select_option('select[name="model"]', "first_touch")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(f"{live_server.url}/okr/reports/channels/{PERIOD}&channel=&model=first_touch")
    expect(page.locator('select[name="model"]')).to_have_value("first_touch")
    expect(ads).to_contain_text("200 %")  # first touch: ads gets the 3000 against its 1000
    comparison = page.locator("#attribution-comparison")
    expect(comparison.locator("thead a")).to_have_count(5)
    expect(comparison.locator('thead a[aria-current="true"]')).to_have_text("First touch")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    context.close()
