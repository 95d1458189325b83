import re

import pytest
from playwright.sync_api import expect

from config.models import Task
from feedback.models import Complaint, ComplaintStatus, NpsResponse
from tests.factories import CustomerFactory, CustomerIdentityFactory, make_user
from tests.factories.feedback import NpsInvitationFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_log_a_complaint_then_resolve_it_only_with_a_resolution(phone, login, live_server):
    customer = CustomerFactory(name="Li Na", company="Harbor Studio")
    CustomerIdentityFactory(customer=customer, value="+8613912345678")
    login(phone, make_user("service", username="sara"))

    phone.goto(f"{live_server.url}/feedback/complaints/new/")
    phone.fill("#customer-q-customer", "13912345678")
    phone.locator("#customer-options-customer input[type=radio]").first.check()
    phone.select_option("select[name=category]", index=1)
    phone.fill("textarea[name=description]", "The delivery arrived broken.")
    phone.click("form button.primary")
    phone.wait_for_url(re.compile(r"/feedback/complaints/\d+/$"))
    complaint = Complaint.objects.get(customer=customer)
    expect(phone.get_by_test_id("status")).to_have_text("Open")

    phone.get_by_test_id("to-in_progress").click()
    expect(phone.get_by_test_id("status")).to_have_text("In progress")

    # Resolving without saying how is refused, and the complaint stays in progress.
    phone.get_by_test_id("to-resolved").click()
    expect(phone.locator(".error[data-field=resolution]")).to_be_visible()
    complaint.refresh_from_db()
    assert complaint.status == ComplaintStatus.IN_PROGRESS

    phone.fill("textarea[name=resolution]", "Sent a replacement.")
    phone.get_by_test_id("to-resolved").click()
    expect(phone.get_by_test_id("status")).to_have_text("Resolved")
    complaint.refresh_from_db()
    assert complaint.status == ComplaintStatus.RESOLVED and complaint.resolution == "Sent a replacement."
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390


def test_public_survey_on_a_phone_detractor_opens_a_follow_up(phone, live_server):
    invitation = NpsInvitationFactory()
    phone.goto(f"{live_server.url}/feedback/survey/{invitation.token}/")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    # Every score is on screen and big enough to tap.
    boxes = [phone.locator("label.score").nth(i).bounding_box() for i in range(11)]
    assert all(b["x"] >= 0 and b["x"] + b["width"] <= 390 and b["height"] >= 32 for b in boxes)

    phone.click("button.primary")  # no score yet
    expect(phone.locator(".error[data-field=score]")).to_be_visible()
    assert not NpsResponse.objects.exists()

    phone.locator("label.score", has_text=re.compile(r"^3$")).click()
    phone.fill("textarea[name=comment]", "Took three weeks to deliver.")
    phone.click("button.primary")
    expect(phone.locator("body")).to_contain_text("Thank")
    response = NpsResponse.objects.get(customer=invitation.customer)
    assert response.score == 3
    assert Task.objects.filter(nps_response__customer=invitation.customer, kind="detractor").exists()

    # The link answers once.
    phone.goto(f"{live_server.url}/feedback/survey/{invitation.token}/")
    assert phone.locator("input[name=score]").count() == 0
    assert NpsResponse.objects.count() == 1
