import pytest
from playwright.sync_api import expect

from tests.factories import make_user
from tests.factories.feedback import ComplaintFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_chinese_complaint_list_and_detail_fit_a_phone(phone, login, live_server):
    complaint = ComplaintFactory(description="Broken on arrival")
    login(phone, make_user("service", username="sara"))
    phone.goto(f"{live_server.url}/feedback/complaints/")
    phone.click("button[name=language][value=zh-hans]")
    phone.wait_for_load_state()
    expect(phone.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(phone.locator("h1")).to_have_text("投诉")
    expect(phone.locator("main")).not_to_contain_text("Severity")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390

    phone.goto(f"{live_server.url}/feedback/complaints/{complaint.pk}/")
    expect(phone.locator("main")).to_contain_text("处理")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
