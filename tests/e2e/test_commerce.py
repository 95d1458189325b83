"""Commerce in a browser, on a 390 px phone: an order entered with its lines, the points it earned on the customer
page, a redemption recorded there in place, and the order cancelled with its points taken back."""

import pytest
from playwright.sync_api import expect

from tests.factories import CustomerFactory, ProductFactory, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def fits(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth") <= 390


def test_an_order_with_lines_earns_points_that_are_redeemed_and_taken_back(phone, login, live_server, settings):
    settings.RELAY_POINTS_PER_UNIT = 1.0
    customer = CustomerFactory(name="Zhou Min")
    ProductFactory(sku="MILK-1", name="Infant milk powder, stage 1", category="baby food", price="120.00")
    ProductFactory(sku="TOY-7", name="Stacking rings", category="toys", price="35.00")
    login(phone, make_user("sales", username="sam"))

    phone.goto(f"{live_server.url}/customers/orders/new/?customer={customer.pk}")
    phone.fill("#id_ordered_at", "2026-03-02 10:00")
    phone.fill("#id_lines-0-product", "MILK-1")
    phone.fill("#id_lines-0-quantity", "1")
    phone.fill("#id_lines-1-product", "TOY-7")
    phone.fill("#id_lines-1-quantity", "2")
    phone.fill("#id_lines-1-unit_price", "30.00")
    assert fits(phone)  # the lines' table scrolls inside its frame, hidden labels and all
    phone.get_by_role("button", name="Save").click()
    expect(phone.get_by_test_id("amount")).to_contain_text("180.00")  # 120.00 + 2 × 30.00
    expect(phone.get_by_test_id("order-lines")).to_contain_text("Stacking rings")
    assert fits(phone)
    order_url = phone.url

    phone.goto(f"{live_server.url}/customers/{customer.pk}/")
    expect(phone.get_by_test_id("loyalty-tier")).to_contain_text("Member")
    expect(phone.get_by_test_id("points-balance")).to_have_text("180")
    form = phone.get_by_test_id("points-form")
    form.locator("select[name=kind]").select_option("redeem")
    form.locator("input[name=points]").fill("500")
    form.get_by_role("button", name="Record").click()
    expect(phone.locator("#loyalty .error")).to_contain_text("180")  # over the balance: refused in place
    form = phone.get_by_test_id("points-form")
    form.locator("input[name=points]").fill("50")
    form.locator("input[name=reason]").fill("Voucher")
    form.get_by_role("button", name="Record").click()
    expect(phone.get_by_test_id("points-balance")).to_have_text("130")
    expect(phone.get_by_test_id("points-entry").first).to_contain_text("Voucher")
    assert phone.url.endswith(f"/customers/{customer.pk}/")  # htmx swapped the panel, no page load
    assert fits(phone)

    phone.goto(order_url)
    phone.get_by_test_id("cancel-order").click()
    phone.fill("textarea[name=reason], input[name=reason]", "Returned")
    phone.get_by_role("button", name="Cancel the order").click()
    expect(phone.get_by_test_id("cancelled")).to_be_visible()
    phone.goto(f"{live_server.url}/customers/{customer.pk}/")
    expect(phone.get_by_test_id("points-balance")).to_have_text("0")  # 130 of the 180 were left to take back
