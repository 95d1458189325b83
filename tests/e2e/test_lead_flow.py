import re

import pytest
from playwright.sync_api import expect

from config.models import Task
from customers.models import Order
from leads.models import Lead
from leads.stages import Stage
from tests.factories import ChannelFactory, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_handoff_accept_board_move_and_close_won(browser, desktop, login, live_server):
    channel = ChannelFactory(name="Trade show")
    marketer = make_user("marketing", username="mia")
    seller = make_user("sales", username="sam")

    # Marketing creates a lead with a contact and hands it off to a named sales user.
    login(desktop, marketer)
    desktop.goto(f"{live_server.url}/leads/new/")
    desktop.fill("input[name=name]", "Wang Fang")
    desktop.fill("input[name=phone]", "13800138000")
    desktop.select_option("select[name=source_channel]", str(channel.pk))
    desktop.fill("input[name=interest]", "Annual plan")
    desktop.click("form button.primary")
    desktop.wait_for_url(re.compile(r"/leads/\d+/$"))
    lead = Lead.objects.get(customer__name="Wang Fang")
    desktop.select_option("#handoff select[name=handoff-assignee]", str(seller.pk))
    desktop.click("#handoff button")
    expect(desktop.locator(".messages")).to_contain_text("Lead handed off.")
    lead.refresh_from_db()
    assert lead.stage == Stage.HANDED_OFF and lead.owner == seller

    # Sales sees it in its queue, accepts it, moves it on the board, logs a call and closes it won.
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = context.new_page()
    login(page, seller)
    page.goto(f"{live_server.url}/leads/queue/")
    page.click(f"a[href='/leads/{lead.pk}/']")
    page.click("button:has-text('Accept')")
    expect(page.locator(".messages")).to_contain_text("Lead accepted.")

    page.goto(f"{live_server.url}/leads/board/")
    card = page.locator(f"li.lead-card[data-lead='{lead.pk}']")
    expect(card).to_have_count(1)
    card.locator("summary").click()  # its "Move to…" menu
    card.locator(f'button[value="{Stage.CONTACTED}"]').click()
    expect(page.locator(f"#cards-{Stage.CONTACTED} li[data-lead='{lead.pk}']")).to_have_count(1)
    lead.refresh_from_db()
    assert lead.stage == Stage.CONTACTED

    page.goto(f"{live_server.url}/leads/{lead.pk}/")
    page.select_option("#activity select[name=activity-kind]", "call")
    page.fill("#activity textarea[name=activity-body]", "Called, wants a quote.")
    page.click("#activity button")
    expect(page.locator(".messages")).to_contain_text("Activity added.")
    expect(page.locator("main")).to_contain_text("Called, wants a quote.")

    page.click("summary:has-text('Close as won or lost')")
    page.select_option("#close select[name=close-outcome]", Stage.WON)
    page.fill("#close input[name=close-amount]", "4200")
    page.click("#close button")
    expect(page.locator(".messages")).to_contain_text("Lead closed.")
    lead.refresh_from_db()
    assert lead.stage == Stage.WON
    order = Order.objects.get(customer=lead.customer)
    assert order.amount == 4200
    assert Task.objects.filter(kind="onboarding", lead=lead).exists()
    context.close()
