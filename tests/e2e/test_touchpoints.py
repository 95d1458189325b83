"""The touchpoints page in a browser: on a 390 px phone it fits the screen, and its filters swap the rows in place."""

import pytest
from playwright.sync_api import expect

from tests.factories import CampaignFactory, ChannelFactory, CustomerFactory, TouchpointFactory, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_touchpoints_page_fits_a_phone_and_filters_in_place(phone, login, live_server):
    douyin = ChannelFactory(code="douyin", name="Douyin")
    ChannelFactory(code="store", name="Flagship store")
    campaign = CampaignFactory(channel=douyin, name="Spring launch with a rather long campaign name")
    TouchpointFactory(
        customer=CustomerFactory(name="Northstar Electronics purchasing department"),
        channel=douyin,
        campaign=campaign,
        kind="impression",
        external_id="douyin-impression-2026-03-000000123456",
    )
    TouchpointFactory(customer=CustomerFactory(name="Li Na"), channel=ChannelFactory(code="store"), kind="scan")
    login(phone, make_user("marketing", username="mia"))
    phone.goto(f"{live_server.url}/marketing/touchpoints/")
    expect(phone.get_by_test_id("touchpoint-row")).to_have_count(2)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    phone.select_option("#id_channel", "douyin")
    phone.locator("form.filters button").click()
    expect(phone.get_by_test_id("touchpoint-row")).to_have_count(1)
    expect(phone.get_by_test_id("touchpoint-row")).to_contain_text("Northstar Electronics")
    assert "channel=douyin" in phone.url  # the filter is in the address, as htmx pushed it
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
