import pytest
from playwright.sync_api import expect

from customers.models import Customer
from tests.factories import CustomerFactory, CustomerIdentityFactory, OrderFactory, make_user
from tests.factories.leads import lead_through

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_customer_360_fits_a_phone(phone, login, live_server):
    customer = CustomerFactory(name="Zhao Lei", company="Northstar Electronics Ltd")
    lead_through("won", customer=customer, interest="Installation service for the whole office", tags=["vip"])
    OrderFactory(customer=customer, external_id="POS-2024-000000123456")
    login(phone, make_user("sales", username="sam"))
    phone.goto(f"{live_server.url}/customers/{customer.pk}/")
    expect(phone.locator("section.timeline li").first).to_be_visible()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390


def test_manager_merges_duplicates_from_data_quality_and_undoes_it(browser, login, live_server):
    first = CustomerFactory(name="Helen Johnson", company="Acme", city="Shanghai")
    second = CustomerFactory(name="helen johnson", company="Acme", city="Suzhou")
    CustomerIdentityFactory(customer=first)
    CustomerIdentityFactory(customer=second)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = context.new_page()
    login(page, make_user("sales_manager", username="boss"))
    page.goto(f"{live_server.url}/customers/data-quality/")
    page.locator("form button", has_text="Merge #").first.click()
    expect(page.get_by_test_id("merge-preview")).to_be_visible()  # nothing merges before the confirmation
    assert not Customer.objects.filter(pk__in=[first.pk, second.pk], merged_into__isnull=False).exists()
    expect(page.get_by_test_id("merge-preview")).to_contain_text("Shanghai")
    expect(page.get_by_test_id("merge-preview")).to_contain_text("Suzhou")
    page.locator("input[name=city][value=duplicate]").check()  # the duplicate's city survives
    page.get_by_test_id("confirm-merge").click()
    expect(page.locator(".messages")).to_be_visible()
    merged = Customer.objects.filter(pk__in=[first.pk, second.pk], merged_into__isnull=False)
    assert merged.count() == 1
    duplicate = merged.get()
    survivor = duplicate.merged_into
    assert survivor.city == {first.pk: "Shanghai", second.pk: "Suzhou"}[duplicate.pk]
    page.goto(f"{live_server.url}/customers/{survivor.pk}/")
    page.click("button:has-text('Undo')")
    expect(page.locator(".messages")).to_be_visible()
    duplicate.refresh_from_db()
    assert duplicate.merged_into is None
    context.close()
