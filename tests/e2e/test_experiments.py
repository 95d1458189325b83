"""Experiment results in a browser: on a 390 px phone and a 1366 px laptop the results page fits the screen, its
chart draws with an error bar per variant, and a marketing manager declares the winner with the button (htmx
swaps the results in place) without breaking any rule of the Content-Security-Policy."""

import pytest
from playwright.sync_api import expect

from marketing.models import Experiment
from tests.factories import ExperimentFactory, make_user
from tests.factories import experiment_messages as send

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("width", [390, 1366])
def test_the_results_page_fits_draws_its_chart_and_declares_the_winner(browser, login, live_server, settings, width):
    settings.RELAY_EXPERIMENT_MIN_SAMPLE = 100
    experiment = ExperimentFactory(item__title="Spring offer: which subject line gets more clicks?")
    send(experiment, "A", sent=1000, opened=400, clicked=120)
    send(experiment, "B", sent=1000, opened=410, clicked=150)
    context = browser.new_context(viewport={"width": width, "height": 900}, locale="en-US")
    page = context.new_page()
    login(page, make_user("marketing_manager", username=f"mei{width}"))
    page.goto(f"{live_server.url}/marketing/experiments/")
    page.click(f"a[href='/marketing/experiments/{experiment.pk}/']")
    expect(page.locator("[data-testid=verdict]")).to_contain_text("can be declared the winner")
    chart = page.locator("svg[data-testid=results-chart]")
    box = chart.bounding_box()
    assert box and box["width"] > 300 and box["height"] > 60
    assert chart.locator("line.xp-err").count() == 6
    assert page.evaluate("document.documentElement.scrollWidth") <= width

    page.click("button[data-testid=declare]")
    expect(page.locator("[data-testid=winner]")).to_contain_text("Variant B")
    expect(page.locator("button[data-testid=declare]")).to_have_count(0)
    assert Experiment.objects.get().winner.key == "B"
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    context.close()
