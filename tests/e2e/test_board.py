"""The pipeline board in a browser (issue 15): every column on a 1366 px screen without a page scrollbar, drag and
drop, arrow keys, the won/lost dialog, and a phone's strip of columns."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from leads.models import Lead
from leads.stages import BOARD_STAGES, Stage
from tests.factories import LeadFactory, lead_through, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _drag(page, source: str, column: str) -> None:
    """HTML5 drag and drop as a hand does it: press, move in steps (Chromium starts a drag only after the pointer
    travelled), release over the column's header."""
    start = page.locator(source).bounding_box()
    end = page.locator(f"{column} .column-head").bounding_box()
    page.mouse.move(start["x"] + 5, start["y"] + 5)
    page.mouse.down()
    page.mouse.move(start["x"] + 25, start["y"] + 25, steps=5)
    page.mouse.move(end["x"] + end["width"] / 2, end["y"] + end["height"] / 2, steps=10)
    page.mouse.up()


def _no_page_scrollbar(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")


def test_every_column_fits_1366_and_cards_move_by_drag_keys_and_dialog(laptop, login, live_server):
    seller = make_user("sales", username="sam", first_name="Sam", last_name="Li")
    lead = lead_through(Stage.CONTACTED, owner=seller, deal_value="1000.00")
    other = lead_through(Stage.NEGOTIATION, owner=seller, deal_value="5000.00")
    for i in range(40):  # a long column scrolls inside the screen, not the page
        LeadFactory(stage=Stage.QUALIFIED, owner=seller, deal_value=Decimal(100 + i))
    page = laptop
    login(page, seller)
    page.goto(f"{live_server.url}/leads/board/")

    assert _no_page_scrollbar(page)
    for stage in BOARD_STAGES:
        box = page.locator(f"#column-{stage}").bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 1366, stage
        assert box["y"] < 768, stage  # every column starts on the first screen
    assert page.evaluate("document.documentElement.scrollHeight") < 768 * 1.5
    scrolls = page.evaluate(
        "(() => { const list = document.getElementById('cards-qualified');"
        " return list.scrollHeight > list.clientHeight; })()"
    )
    assert scrolls
    expect(page.locator("#column-contacted")).to_contain_text("Sam Li")

    # ↑ ↓ go from card to card in a column.
    first, second = (
        page.locator("#cards-qualified > li.lead-card").nth(0),
        page.locator("#cards-qualified > li.lead-card").nth(1),
    )
    first.locator(".card-title").focus()
    page.keyboard.press("ArrowDown")
    expect(second.locator(".card-title")).to_be_focused()
    page.keyboard.press("ArrowUp")
    expect(first.locator(".card-title")).to_be_focused()

    # Drag from contacted to proposal: the card tops its new column, both headers update, the move is announced.
    _drag(page, f"#lead-card-{lead.pk} .card-meta", "#column-proposal")
    expect(page.locator(f"#cards-proposal > #lead-card-{lead.pk}")).to_have_count(1)
    expect(page.locator(f"#cards-contacted #lead-card-{lead.pk}")).to_have_count(0)
    expect(page.locator('[data-testid="count-proposal"]')).to_have_text("1")
    expect(page.locator('[data-testid="count-contacted"]')).to_have_text("0")
    expect(page.locator('[data-testid="total-proposal"]')).to_have_text("1,000")
    expect(page.locator('[data-testid="total-proposal"]')).to_have_attribute("title", "CNY\u00a01,000.00")
    expect(page.locator("#board-status")).to_have_text(f"Lead #{lead.pk} moved to Proposal.")
    assert Lead.objects.get(pk=lead.pk).stage == Stage.PROPOSAL

    # A drop where the card may not go does nothing.
    _drag(page, f"#lead-card-{lead.pk} .card-meta", "#column-new")
    assert Lead.objects.get(pk=lead.pk).stage == Stage.PROPOSAL

    # The arrow key: the next stage it may go to; the focus stays on the card.
    page.focus(f"#lead-card-{lead.pk} .card-title")
    page.keyboard.press("ArrowRight")
    expect(page.locator(f"#cards-negotiation > #lead-card-{lead.pk}")).to_have_count(1)
    expect(page.locator(f"#lead-card-{lead.pk} .card-title")).to_be_focused()
    expect(page.locator("#board-status")).to_have_text(f"Lead #{lead.pk} moved to Negotiation.")

    # Right of negotiation is won: the dialog asks the amount, starting from the deal value.
    page.keyboard.press("ArrowRight")
    dialog = page.locator("#board-dialog")
    expect(dialog).to_be_visible()
    amount = dialog.locator("input[name=amount]")
    expect(amount).to_have_value("1000.00")
    expect(amount).to_be_focused()
    amount.fill("")
    dialog.locator("button.primary").click()
    expect(dialog.locator('[data-field="amount"]')).to_have_text("A won lead needs the amount of its order.")
    assert Lead.objects.get(pk=lead.pk).stage == Stage.NEGOTIATION
    dialog.locator("input[name=amount]").fill("900")
    dialog.locator("button.primary").click()
    expect(dialog).to_be_hidden()
    expect(page.locator(f"#cards-won > #lead-card-{lead.pk}")).to_have_count(1)
    won = Lead.objects.get(pk=lead.pk)
    assert (won.stage, won.won_amount, won.won_order.amount) == (Stage.WON, Decimal("900.00"), Decimal("900.00"))

    # Dropped on lost: the dialog asks why.
    _drag(page, f"#lead-card-{other.pk} .card-meta", "#column-lost")
    expect(dialog).to_be_visible()
    dialog.locator("select[name=reason]").select_option("competitor")
    dialog.locator("button.primary").click()
    expect(dialog).to_be_hidden()
    expect(page.locator(f"#cards-lost > #lead-card-{other.pk}")).to_have_count(1)
    assert Lead.objects.get(pk=other.pk).lost_reason == "competitor"

    # Cancel closes the dialog and changes nothing.
    third = lead_through(Stage.PROPOSAL, owner=seller)
    page.reload()
    page.locator(f"#lead-card-{third.pk} summary").click()
    page.locator(f"#lead-card-{third.pk} a[data-close=lost]").click()
    expect(dialog).to_be_visible()
    dialog.locator("[data-dialog-cancel]").click()
    expect(dialog).to_be_hidden()
    assert Lead.objects.get(pk=third.pk).stage == Stage.PROPOSAL
    assert _no_page_scrollbar(page)


def test_a_card_dragged_onto_won_is_won_for_its_deal_value_once_the_dialog_is_confirmed(laptop, login, live_server):
    seller = make_user("sales")
    lead = lead_through(Stage.PROPOSAL, owner=seller, deal_value="48000.00")
    page = laptop
    login(page, seller)
    page.goto(f"{live_server.url}/leads/board/")

    _drag(page, f"#lead-card-{lead.pk} .card-meta", "#column-won")
    dialog = page.locator("#board-dialog")
    expect(dialog).to_be_visible()
    amount = dialog.locator("input[name=amount]")
    expect(amount).to_have_value("48000.00")  # the deal value, to confirm or correct
    expect(amount).to_be_focused()
    expect(page.locator(f"#cards-proposal > #lead-card-{lead.pk}")).to_have_count(1)  # nothing moves before the dialog
    assert Lead.objects.get(pk=lead.pk).stage == Stage.PROPOSAL

    dialog.locator("button.primary").click()
    expect(dialog).to_be_hidden()
    expect(page.locator(f"#cards-won > #lead-card-{lead.pk}")).to_have_count(1)
    expect(page.locator(f"#cards-proposal #lead-card-{lead.pk}")).to_have_count(0)
    expect(page.locator('[data-testid="count-won"]')).to_have_text("1")
    expect(page.locator('[data-testid="total-won"]')).to_have_text("48,000")
    expect(page.locator("#board-status")).to_have_text(f"Lead #{lead.pk} closed as won.")
    won = Lead.objects.get(pk=lead.pk)
    assert (won.stage, won.won_amount) == (Stage.WON, Decimal("48000.00"))
    assert (won.won_order.amount, won.won_order.customer_id) == (Decimal("48000.00"), lead.customer_id)
    assert _no_page_scrollbar(page)


def test_a_refused_drop_says_why_on_the_board(laptop, login, live_server):
    seller = make_user("sales")
    lead = lead_through(Stage.CONTACTED, owner=seller)
    page = laptop
    login(page, seller)
    page.goto(f"{live_server.url}/leads/board/")
    Lead.objects.filter(pk=lead.pk).update(owner=make_user("sales"))  # reassigned since the board was drawn
    _drag(page, f"#lead-card-{lead.pk} .card-meta", "#column-qualified")
    expect(page.locator(".board-error")).to_have_text("Your role does not allow this action on this lead.")
    expect(page.locator(f"#cards-contacted > #lead-card-{lead.pk}")).to_have_count(1)
    assert Lead.objects.get(pk=lead.pk).stage == Stage.CONTACTED


def test_the_board_on_a_phone_is_a_strip_of_columns(phone, login, live_server):
    seller = make_user("sales")
    lead = lead_through(Stage.CONTACTED, owner=seller, deal_value="250.00")
    login(phone, seller)
    phone.goto(f"{live_server.url}/leads/board/")
    assert _no_page_scrollbar(phone)
    expect(phone.locator(".stage-tabs")).to_be_visible()
    column = phone.locator("#column-new").bounding_box()
    assert column["width"] > 300  # one column wide

    phone.locator('.stage-tabs a[data-stage="contacted"]').click()
    expect(phone.locator(f"#lead-card-{lead.pk}")).to_be_in_viewport()
    expect(phone.locator('.stage-tabs a[data-stage="contacted"]')).to_have_attribute("aria-current", "true")

    # The card's menu moves it; the strip follows the card to its new column.
    phone.locator(f"#lead-card-{lead.pk} summary").click()
    phone.locator(f'#lead-card-{lead.pk} button[value="{Stage.PROPOSAL}"]').click()
    expect(phone.locator(f"#cards-proposal > #lead-card-{lead.pk}")).to_be_in_viewport()
    assert Lead.objects.get(pk=lead.pk).stage == Stage.PROPOSAL
    assert _no_page_scrollbar(phone)
