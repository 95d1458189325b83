"""The reports in a browser: on a 390 px phone and a 1366 px laptop every report fits the screen (a wide chart
scrolls inside its figure, the page never does), its charts draw, and no rule of the Content-Security-Policy
breaks."""

from datetime import date, timedelta

import pytest
from playwright.sync_api import expect

from leads import services
from tests.factories import ChannelFactory, NpsResponseFactory, lead_through, make_user
from tests.okr.conftest import at

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PERIOD = "?start=2026-01-01&end=2027-01-01"
REPORTS = ["funnel", "channels", "cycle-time", "time-in-stage", "reasons", "nps"]


def _year_of_activity():
    web = ChannelFactory(code="web", name="Website")
    seller = make_user("sales", first_name="Alice", last_name="Tan")
    for month in range(1, 13):
        day = date(2026, month, 10)
        lead = lead_through("handed_off", owner=seller, source_channel=web, now=at(day))
        services.reject_lead(lead=lead, by=seller, reason="no_budget", now=at(day) + timedelta(hours=3))
        lead = lead_through("proposal", owner=seller, source_channel=web, now=at(day))
        services.close_lead(lead=lead, by=seller, outcome="lost", reason="competitor", now=at(day + timedelta(days=4)))
        lead_through("won", owner=seller, source_channel=web, now=at(day))
        for score in (10, 9, 3, 8):
            NpsResponseFactory(score=score, answered_at=at(day))


@pytest.mark.parametrize("width", [390, 1366])
def test_every_report_fits_the_screen_and_draws_its_charts(browser, login, live_server, width):
    _year_of_activity()
    context = browser.new_context(viewport={"width": width, "height": 900}, locale="en-US")
    page = context.new_page()
    login(page, make_user("marketing"))
    for report in REPORTS:
        page.goto(f"{live_server.url}/okr/reports/{report}/{PERIOD}")
        expect(page.locator("h1")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= width, report
        for chart in page.locator("svg.chart").all():
            box = chart.bounding_box()
            assert box and box["width"] > 200 and box["height"] > 40, report
    context.close()
