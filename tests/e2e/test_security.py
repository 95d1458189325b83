"""In Chromium, under the Content-Security-Policy (tests/e2e/conftest.py fails any test that breaks it): the API
docs, the behaviour moved out of inline scripts, and the API tokens page."""

import pytest
from knox.models import AuthToken
from playwright.sync_api import expect

from tests.factories import make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_swagger_ui_runs_under_the_policy(desktop, login, live_server):
    login(desktop, make_user("sales"))
    desktop.goto(f"{live_server.url}/api/docs/")
    expect(desktop.locator(".swagger-ui .info .title")).to_contain_text("Relay API")
    expect(desktop.locator(".opblock").first).to_be_visible()


def test_filters_start_open_on_a_wide_screen_and_folded_on_a_phone(desktop, phone, login, live_server):
    login(desktop, make_user("sales"))
    desktop.goto(f"{live_server.url}/leads/")
    expect(desktop.locator("details[data-testid=filters]")).to_have_attribute("open", "")
    login(phone, make_user("sales"))
    phone.goto(f"{live_server.url}/leads/")
    expect(phone.locator("details[data-testid=filters]")).not_to_have_attribute("open", "")


def test_make_copy_and_revoke_a_token_on_a_phone(phone, login, live_server):
    login(phone, make_user("marketing"))
    phone.click("a:has-text('API tokens')")
    phone.select_option("select[name=days]", "90")
    phone.click("form.card button.primary")
    token = phone.locator("[data-testid=new-token] input").input_value()
    assert token.startswith("relay_")
    expect(phone.locator("[data-testid=token-row]")).to_have_count(1)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    phone.click("[data-testid=token-row] button:has-text('Revoke')")
    expect(phone.locator(".messages")).to_contain_text("Token revoked")
    expect(phone.locator("[data-testid=token-row]")).to_have_count(0)
    assert not AuthToken.objects.exists()
