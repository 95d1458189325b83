"""The pipeline board (issue 15): columns with count, total and weighted value; cards with names and deal value;
drag/keyboard moves through the board's move endpoint; won and lost through the board's close dialog; refusals in
place; permissions per role; fixed query counts."""

import json
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from customers.models import Order
from leads import selectors, services
from leads.models import Lead
from leads.stages import BOARD_STAGES, WIN_PROBABILITY, Stage
from tests.conftest import ROLES
from tests.factories import LeadFactory, lead_through, make_user
from tests.webhook_events import endpoints_for, sent

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
NBSP = "\u00a0"


def _money(text: str) -> str:
    """How the board writes an amount in English (config.money.format_money): "CNY 1,234.50"."""
    return f"CNY{NBSP}{text}"


def _testid(body: str, testid: str) -> str:
    found = re.search(rf'data-testid="{re.escape(testid)}"[^>]*>([^<]*)<', body)
    assert found, testid
    return found.group(1)


def _amount(body: str, testid: str) -> tuple[str, str]:
    """An amount as the board shows it (whole units, to fit a column) and its exact title."""
    found = re.search(rf'data-testid="{re.escape(testid)}" title="([^"]*)">([^<]*)<', body)
    assert found, testid
    return found.group(2), found.group(1)


def _column(body: str, stage: str) -> str:
    """The card list of one column in a page."""
    start = body.index(f'id="cards-{stage}"')
    end = body.index("</ul>", start)
    return body[start:end]


def _card_ids(html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'data-lead="(\d+)"', html)]


def _move(client, lead, stage, seen_stage, *, htmx=True, board_query=""):
    data = {"stage": stage, "seen_stage": seen_stage, "board_query": board_query}
    return client.post(f"/leads/{lead.pk}/board-move/", data, **(HTMX if htmx else {}))


def _close(client, lead, data, *, htmx=True):
    return client.post(f"/leads/{lead.pk}/board-close/", data, **(HTMX if htmx else {}))


# --- the page ----------------------------------------------------------------------------------------------------


def test_every_stage_is_a_column_with_its_header_and_the_dialog_is_on_the_page(client_as):
    body = client_as("sales").get("/leads/board/").content.decode()
    assert re.findall(r'<section class="board-column" id="column-(\w+)"', body) == list(BOARD_STAGES)
    for stage in BOARD_STAGES:
        assert f'id="head-{stage}"' in body and f'data-testid="count-{stage}">0<' in body
        assert f'href="#column-{stage}"' in body  # the phone layout's stage links
    assert '<dialog id="board-dialog"' in body and 'id="board-status"' in body and 'aria-live="polite"' in body
    assert "/static/js/board.js" in body


def test_column_headers_show_count_total_and_weighted_value(client_as):
    seller = make_user("sales")
    for value in ("1000.00", "2500.50", None):
        lead_through(Stage.CONTACTED, owner=seller, deal_value=value)
    lead_through(Stage.PROPOSAL, owner=seller, deal_value="12345.67")
    lead_through(Stage.PROPOSAL, owner=seller, deal_value="0.05")
    won = lead_through(Stage.NEGOTIATION, owner=seller, deal_value="5000.00")
    services.close_lead(lead=won, by=seller, outcome=Stage.WON, amount="4200.00")
    lead_through(Stage.LOST, owner=seller, deal_value="800.00")
    lead_through(Stage.NEW, deal_value="300.00")

    body = client_as(user=seller).get("/leads/board/").content.decode()

    expected = {
        # stage: (count, total, weighted) by hand: Σ value, Σ value × the stage's percent, to the cent; shown in
        # whole units (half up), exact in the title
        Stage.NEW: ("1", ("300", _money("300.00")), ("0", _money("0.00"))),  # 0 %: marketing's, no forecast yet
        Stage.HANDED_OFF: ("0", ("—", "—"), ("—", "—")),
        # 20 % of 3,500.50; the lead without a value counts, adds nothing
        Stage.CONTACTED: ("3", ("3,501", _money("3,500.50")), ("700", _money("700.10"))),
        # 60 % of 12,345.72 is 7,407.432
        Stage.PROPOSAL: ("2", ("12,346", _money("12,345.72")), ("7,407", _money("7,407.43"))),
        # the won amount, not the 5,000 estimate
        Stage.WON: ("1", ("4,200", _money("4,200.00")), ("4,200", _money("4,200.00"))),
        Stage.LOST: ("1", ("800", _money("800.00")), ("0", _money("0.00"))),
    }
    for stage, (count, total, weighted) in expected.items():
        assert _testid(body, f"count-{stage}") == count, stage
        assert _amount(body, f"total-{stage}") == total, stage
        assert _amount(body, f"weighted-{stage}") == weighted, stage
    assert "× 20 %" in body and "× 60 %" in body and "weighted by this stage’s win probability, 60 %" in body


def test_sums_come_from_one_aggregate_query_for_all_columns():
    seller = make_user("sales")
    for stage, value in [(Stage.QUALIFIED, "100.00"), (Stage.QUALIFIED, "33.33"), (Stage.NEGOTIATION, "10.01")]:
        lead_through(stage, owner=seller, deal_value=value)
    with CaptureQueriesContext(connection) as queries:
        sums = selectors.board_sums(selectors.lead_rows())
    assert len(queries.captured_queries) == 1
    sql = queries.captured_queries[0]["sql"].upper()
    assert "SUM(" in sql and "GROUP BY" in sql
    assert sums[Stage.QUALIFIED] == {"count": 2, "total": Decimal("133.33"), "weighted": Decimal("53.33")}
    # 80 % of 10.01 is 8.008: rounded to the cent
    assert sums[Stage.NEGOTIATION] == {"count": 1, "total": Decimal("10.01"), "weighted": Decimal("8.01")}
    assert WIN_PROBABILITY[Stage.QUALIFIED] == 40 and WIN_PROBABILITY[Stage.NEGOTIATION] == 80


def test_sums_follow_the_boards_filter(client_as):
    seller, other = make_user("sales"), make_user("sales")
    lead_through(Stage.QUALIFIED, owner=seller, deal_value="1000.00")
    lead_through(Stage.QUALIFIED, owner=other, deal_value="9000.00")
    body = client_as(user=seller).get("/leads/board/?mine=true").content.decode()
    assert _testid(body, "count-qualified") == "1"
    assert _amount(body, "total-qualified") == ("1,000", _money("1,000.00"))
    assert _amount(body, "weighted-qualified") == ("400", _money("400.00"))


def test_cards_name_people_and_customers_show_the_value_and_link_to_the_lead(client_as):
    marketer = make_user("marketing", first_name="Sophie", last_name="Wang")
    seller = make_user("sales", first_name="Michael", last_name="Zhou")
    nameless = make_user("sales", first_name="", last_name="", username="sales-nameless")
    mine = lead_through(Stage.PROPOSAL, marketer=marketer, owner=seller, deal_value="12500.00")
    theirs = lead_through(Stage.CONTACTED, owner=nameless)
    fresh = lead_through(Stage.NEW, marketer=marketer)
    pooled = lead_through(Stage.HANDED_OFF, pool=True)
    body = client_as(user=seller).get("/leads/board/").content.decode()

    proposal = _column(body, "proposal")
    assert "Michael Zhou" in proposal and seller.username not in proposal
    assert mine.customer.name in proposal and f'href="/leads/{mine.pk}/"' in proposal
    assert _amount(body, f"value-{mine.pk}") == ("12,500", _money("12,500.00"))
    assert "sales-nameless" in _column(body, "contacted")  # no full name: the username
    assert "No value" in _column(body, "contacted") and theirs.customer.name in _column(body, "contacted")
    assert "Sophie Wang" in _column(body, "new") and fresh.customer.name in _column(body, "new")
    assert "Lead pool" in _column(body, "handed_off") and pooled.customer.name in _column(body, "handed_off")


def test_a_won_card_shows_its_won_amount():
    seller = make_user("sales")
    lead = lead_through(Stage.PROPOSAL, owner=seller, deal_value="5000.00")
    services.close_lead(lead=lead, by=seller, outcome=Stage.WON, amount="4321.00")
    card = selectors.board_card(selectors.lead_rows(), pk=lead.pk)
    assert card.board_value == Decimal("4321.00")


def test_the_no_js_move_form_sits_in_a_collapsed_menu_and_cards_say_where_they_may_be_dropped(client_as):
    seller = make_user("sales")
    lead = lead_through(Stage.QUALIFIED, owner=seller)
    body = client_as(user=seller).get("/leads/board/").content.decode()
    card = body[body.index(f'id="lead-card-{lead.pk}"') :]
    card = card[: card.index("</li>")]
    assert 'draggable="true"' in card
    targets = re.search(r'data-targets="([^"]+)"', card).group(1).split()
    assert targets == ["contacted", "proposal", "negotiation", "won", "lost"]
    assert '<details class="card-menu">' in card  # collapsed: no `open`
    assert card.index('<details class="card-menu">') < card.index('<form method="post"')
    buttons = re.findall(r'<button name="stage" value="(\w+)"', card)
    assert buttons == ["contacted", "proposal", "negotiation"]
    assert f'href="/leads/{lead.pk}/board-close/?outcome=won&amp;seen_stage=qualified"' in card
    assert f'href="/leads/{lead.pk}/board-close/?outcome=lost&amp;seen_stage=qualified"' in card


@pytest.mark.parametrize("role", ROLES)
def test_cards_offer_moves_per_role(client_as, role):
    """Marketing, service and a seller who doesn't own it get a plain card; its owner and sales managers a
    draggable one with the menu."""
    owner = make_user("sales")
    lead = lead_through(Stage.CONTACTED, owner=owner)
    body = client_as(role).get("/leads/board/").content.decode()
    card = body[body.index(f'id="lead-card-{lead.pk}"') :]
    card = card[: card.index("</li>")]
    may_move = role in ("sales_manager", "admin")
    assert ('draggable="true"' in card) is may_move
    assert (f"/leads/{lead.pk}/board-move/" in card) is may_move
    assert (f"/leads/{lead.pk}/board-close/" in card) is may_move
    assert (f"/leads/{lead.pk}/edit/" in card) is may_move  # the deal value's pencil


# --- moving a card ------------------------------------------------------------------------------------------------


def test_a_drop_posts_the_move_and_the_answer_moves_the_card_and_updates_both_headers(client_as):
    seller = make_user("sales")
    lead = lead_through(Stage.CONTACTED, owner=seller, deal_value="1000.00")
    lead_through(Stage.PROPOSAL, owner=seller, deal_value="500.00")
    client = client_as(user=seller)
    response = _move(client, lead, "proposal", "contacted")
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body
    assert response["HX-Reswap"] == "none"  # the other columns keep their scroll and their loaded cards
    assert json.loads(response["HX-Trigger-After-Settle"]) == {
        "relay:card-moved": {"lead": lead.pk, "stage": "proposal"}
    }
    # both headers, out of band, with their new numbers
    assert re.search(r'<header class="column-head" id="head-contacted" hx-swap-oob="true">', body)
    assert re.search(r'<header class="column-head" id="head-proposal" hx-swap-oob="true">', body)
    assert _testid(body, "count-contacted") == "0" and _testid(body, "total-contacted") == "—"
    assert _testid(body, "count-proposal") == "2"
    assert _amount(body, "total-proposal") == ("1,500", _money("1,500.00"))
    assert _amount(body, "weighted-proposal") == ("900", _money("900.00"))
    # the card leaves its column and tops its new one, redrawn for its new stage
    assert f'hx-swap-oob="delete:#lead-card-{lead.pk}"' in body
    inserted = body[body.index('hx-swap-oob="afterbegin:#cards-proposal"') :]
    assert f'id="lead-card-{lead.pk}"' in inserted and 'data-stage="proposal"' in inserted
    assert re.findall(r'<button name="stage" value="(\w+)"', inserted) == ["contacted", "qualified", "negotiation"]
    assert f"Lead #{lead.pk} moved to Proposal." in body  # for the live region
    lead.refresh_from_db()
    assert lead.stage == Stage.PROPOSAL
    change = lead.stage_changes.order_by("-at", "-pk").first()
    assert (change.from_stage, change.to_stage, change.by) == ("contacted", "proposal", seller)


def test_a_moved_card_tops_its_new_column_however_full_it_is(client_as, settings):
    """The user test: a card moved forward vanished below the column's first page."""
    settings.RELAY_BOARD_PAGE_SIZE = 2
    seller = make_user("sales")
    lead = lead_through(Stage.CONTACTED, owner=seller, now=timezone.now() - timedelta(days=30))
    older = [lead_through(Stage.PROPOSAL, owner=seller, now=timezone.now() - timedelta(days=1)) for _ in range(4)]
    client = client_as(user=seller)
    assert _move(client, lead, "proposal", "contacted").status_code == 200
    body = client.get("/leads/board/").content.decode()
    shown = _card_ids(_column(body, "proposal"))
    assert shown[0] == lead.pk and len(shown) == 2
    assert _testid(body, "count-proposal") == str(len(older) + 1)


def test_a_move_that_the_filter_hides_only_leaves_its_old_column(client_as):
    seller = make_user("sales")
    lead = lead_through(Stage.CONTACTED, owner=seller)
    response = _move(client_as(user=seller), lead, "qualified", "contacted", board_query="stage=contacted")
    body = response.content.decode()
    assert response.status_code == 200
    assert f'hx-swap-oob="delete:#lead-card-{lead.pk}"' in body and "afterbegin" not in body
    assert _testid(body, "count-qualified") == "0"  # the board shows contacted leads only


def test_a_plain_form_post_goes_back_to_the_board_at_the_card(client_as):
    seller = make_user("sales")
    lead = lead_through(Stage.ACCEPTED, owner=seller)
    response = _move(client_as(user=seller), lead, "negotiation", "accepted", htmx=False, board_query="mine=true")
    assert response.status_code == 302 and response["Location"] == f"/leads/board/?mine=true#lead-card-{lead.pk}"
    lead.refresh_from_db()
    assert lead.stage == Stage.NEGOTIATION


@pytest.mark.parametrize(
    ("stage", "seen", "message"),
    [
        ("won", "contacted", "use close for won or lost"),
        ("accepted", "contacted", "use close for won or lost"),
        ("contacted", "contacted", "cannot move to"),
        ("proposal", "qualified", "changed while you were working on it"),
    ],
)
def test_refused_moves_come_back_in_place(client_as, stage, seen, message):
    seller = make_user("sales")
    lead = lead_through(Stage.CONTACTED, owner=seller)
    response = _move(client_as(user=seller), lead, stage, seen)
    body = response.content.decode()
    assert response.status_code == 422
    assert response["HX-Reswap"] == "outerHTML show:#board:top" and response["HX-Retarget"] == "#board"
    assert 'id="board"' in body and 'class="error board-error" role="alert">' in body and message in body
    assert body.index("board-error") < body.index('class="board leads-board"')
    assert f'id="lead-card-{lead.pk}"' in _column(body, "contacted")  # where it really is
    lead.refresh_from_db()
    assert lead.stage == Stage.CONTACTED and lead.stage_changes.count() == 4


OWNER_ACTIONS_ALLOWED = {"sales_manager", "admin"}


@pytest.mark.parametrize("role", ROLES)
def test_moving_someone_elses_card_per_role(client_as, role):
    """Marketing and service never move a sales lead, a seller only their own, a sales manager any."""
    lead = lead_through(Stage.CONTACTED, owner=make_user("sales"))
    client = client_as(role)
    response = _move(client, lead, "qualified", "contacted")
    lead.refresh_from_db()
    if role in OWNER_ACTIONS_ALLOWED:
        assert response.status_code == 200 and lead.stage == Stage.QUALIFIED
    else:
        assert response.status_code == 422
        assert "Your role does not allow this action on this lead." in response.content.decode()
        assert lead.stage == Stage.CONTACTED
        assert _move(client, lead, "qualified", "contacted", htmx=False).status_code == 403  # the 403 page
        lead.refresh_from_db()
        assert lead.stage == Stage.CONTACTED


def test_the_owner_moves_their_own_card(client_as):
    seller = make_user("sales")
    lead = lead_through(Stage.CONTACTED, owner=seller)
    assert _move(client_as(user=seller), lead, "negotiation", "contacted").status_code == 200
    lead.refresh_from_db()
    assert lead.stage == Stage.NEGOTIATION


def test_moving_an_unknown_lead_is_404(client_as):
    assert client_as("sales_manager").post("/leads/999999/board-move/", {"stage": "proposal"}).status_code == 404


# --- won and lost from the board --------------------------------------------------------------------------------


def test_the_won_dialog_asks_the_amount_starting_from_the_deal_value(client_as):
    seller = make_user("sales")
    lead = lead_through(Stage.NEGOTIATION, owner=seller, deal_value="5000.00")
    response = client_as(user=seller).get(
        f"/leads/{lead.pk}/board-close/",
        {"outcome": "won", "seen_stage": "negotiation", "board_query": "mine=true"},
        **HTMX,
    )
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body
    assert 'id="board-dialog-title"' in body and f"Lead #{lead.pk} ({lead.customer.name}) won" in body
    assert re.search(r'<input type="number" name="amount" value="5000.00"', body)
    assert 'name="reason"' not in body
    assert f'hx-post="/leads/{lead.pk}/board-close/"' in body and 'hx-target="#board-dialog-body"' in body
    assert 'name="board_query" value="mine=true"' in body and 'name="seen_stage" value="negotiation"' in body
    assert "HX-Request" in response["Vary"]


def test_the_lost_dialog_asks_the_reason(client_as):
    seller = make_user("sales")
    lead = lead_through(Stage.QUALIFIED, owner=seller)
    body = client_as(user=seller).get(f"/leads/{lead.pk}/board-close/?outcome=lost", **HTMX).content.decode()
    options = re.findall(r'<option value="(\w*)"', body)
    assert options == ["", "price", "competitor", "no_decision", "timing", "not_reachable", "other"]
    assert 'name="reason_text"' in body and 'name="amount"' not in body


def test_won_from_the_board_does_what_the_lead_page_does(client_as):
    seller = make_user("sales")
    on_board = lead_through(Stage.NEGOTIATION, owner=seller, deal_value="5000.00")
    on_page = lead_through(Stage.NEGOTIATION, owner=seller, deal_value="5000.00")
    client = client_as(user=seller)
    wanted, _others = endpoints_for("lead.won")
    page = client.post(
        f"/leads/{on_page.pk}/close/", {"seen_stage": "negotiation", "close-outcome": "won", "close-amount": "4200.00"}
    )
    assert page.status_code == 302
    response = _close(client, on_board, {"outcome": "won", "amount": "4200.00", "seen_stage": "negotiation"})
    body = response.content.decode()
    assert response.status_code == 200 and response["HX-Reswap"] == "none"
    assert json.loads(response["HX-Trigger-After-Settle"]) == {
        "relay:card-moved": {"lead": on_board.pk, "stage": "won"}
    }
    assert f'hx-swap-oob="delete:#lead-card-{on_board.pk}"' in body
    assert 'hx-swap-oob="afterbegin:#cards-won"' in body
    assert _testid(body, "count-won") == "2" and _amount(body, "total-won") == ("8,400", _money("8,400.00"))
    assert _testid(body, "count-negotiation") == "0"
    assert f"Lead #{on_board.pk} closed as won." in body
    on_board.refresh_from_db()
    on_page.refresh_from_db()
    for lead in (on_board, on_page):
        order = Order.objects.get(customer=lead.customer)
        assert (lead.stage, lead.won_amount, lead.won_order_id) == (Stage.WON, Decimal("4200.00"), order.pk)
        assert (order.amount, order.channel_id) == (Decimal("4200.00"), lead.source_channel_id)
        change = lead.stage_changes.order_by("-at", "-pk").first()
        assert (change.from_stage, change.to_stage, change.by) == ("negotiation", "won", seller)
    assert sorted(data["lead"] for _type, data in sent(wanted, "lead.won")) == sorted([on_board.pk, on_page.pk])


@pytest.mark.parametrize(("reason", "text"), [("competitor", ""), ("other", "Budget frozen")])
def test_lost_from_the_board_keeps_the_reason(client_as, reason, text):
    seller = make_user("sales")
    lead = lead_through(Stage.PROPOSAL, owner=seller, deal_value="800.00")
    data = {"outcome": "lost", "reason": reason, "reason_text": text, "seen_stage": "proposal"}
    response = _close(client_as(user=seller), lead, data)
    assert response.status_code == 200
    assert _amount(response.content.decode(), "total-lost") == ("800", _money("800.00"))
    assert f"Lead #{lead.pk} closed as lost." in response.content.decode()
    lead.refresh_from_db()
    assert (lead.stage, lead.lost_reason, lead.lost_reason_text) == (Stage.LOST, reason, text)
    assert not Order.objects.exists()


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"outcome": "won", "amount": ""}, "amount", "A won lead needs the amount of its order."),
        ({"outcome": "won", "amount": "0"}, "amount", "The amount must be more than zero."),
        ({"outcome": "won", "amount": "-5"}, "amount", "The amount must be more than zero."),
        ({"outcome": "won", "amount": "abc"}, "amount", "Enter a number."),
        ({"outcome": "lost", "reason": ""}, "reason", "Choose why the lead was lost."),
        ({"outcome": "lost", "reason": "other", "reason_text": ""}, "reason_text", "Say why the lead was lost."),
    ],
)
def test_bad_input_stays_in_the_dialog_with_its_error(client_as, data, field, message):
    seller = make_user("sales")
    lead = lead_through(Stage.PROPOSAL, owner=seller)
    response = _close(client_as(user=seller), lead, {**data, "seen_stage": "proposal"})
    body = response.content.decode()
    assert response.status_code == 422
    assert "HX-Retarget" not in response  # it stays in the dialog
    assert 'class="board-close-form"' in body and 'id="board"' not in body
    assert re.search(rf'<div class="error" data-field="{field}" role="alert">{re.escape(message)}</div>', body)
    lead.refresh_from_db()
    assert lead.stage == Stage.PROPOSAL and not Order.objects.exists()


def test_without_javascript_the_dialog_is_a_page(client_as):
    seller = make_user("sales")
    lead = lead_through(Stage.PROPOSAL, owner=seller, deal_value="99.00")
    client = client_as(user=seller)
    page = client.get(f"/leads/{lead.pk}/board-close/?outcome=won&board_query=mine%3Dtrue")
    assert page.status_code == 200 and "<html" in page.content.decode()
    assert f'hx-post="/leads/{lead.pk}/board-close/"' not in page.content.decode()  # no dialog to fill
    missing = _close(client, lead, {"outcome": "won", "amount": "", "seen_stage": "proposal"}, htmx=False)
    assert missing.status_code == 422 and "<html" in missing.content.decode()
    done = _close(
        client,
        lead,
        {"outcome": "won", "amount": "99.00", "seen_stage": "proposal", "board_query": "mine=true"},
        htmx=False,
    )
    assert done.status_code == 302 and done["Location"] == f"/leads/board/?mine=true#lead-card-{lead.pk}"
    lead.refresh_from_db()
    assert lead.stage == Stage.WON


def test_a_stale_close_redraws_the_board_with_the_reason(client_as):
    seller = make_user("sales")
    lead = lead_through(Stage.PROPOSAL, owner=seller)
    client = client_as(user=seller)
    services.move_lead(lead=lead, by=seller, stage=Stage.NEGOTIATION)  # someone moved it meanwhile
    response = _close(client, lead, {"outcome": "won", "amount": "10.00", "seen_stage": "proposal"})
    body = response.content.decode()
    assert response.status_code == 422
    assert response["HX-Retarget"] == "#board" and response["HX-Reswap"] == "outerHTML show:#board:top"
    assert json.loads(response["HX-Trigger-After-Settle"]) == {"relay:board-refused": {}}
    assert "changed while you were working on it" in body and 'class="error board-error"' in body
    lead.refresh_from_db()
    assert lead.stage == Stage.NEGOTIATION and not Order.objects.exists()


def test_closing_a_lead_not_in_the_pipeline_is_refused_in_place(client_as):
    lead = lead_through(Stage.HANDED_OFF, owner=make_user("sales"))
    response = client_as("sales_manager").get(f"/leads/{lead.pk}/board-close/?outcome=won", **HTMX)
    assert response.status_code == 422 and "cannot be closed" in response.content.decode()


def test_an_unknown_outcome_is_404(client_as):
    seller = make_user("sales")
    lead = lead_through(Stage.PROPOSAL, owner=seller)
    assert client_as(user=seller).get(f"/leads/{lead.pk}/board-close/?outcome=maybe").status_code == 404


@pytest.mark.parametrize("role", ROLES)
def test_closing_someone_elses_lead_from_the_board_per_role(client_as, role):
    lead = lead_through(Stage.NEGOTIATION, owner=make_user("sales"), deal_value="700.00")
    client = client_as(role)
    dialog = client.get(f"/leads/{lead.pk}/board-close/?outcome=won", **HTMX)
    response = _close(client, lead, {"outcome": "won", "amount": "700.00", "seen_stage": "negotiation"})
    lead.refresh_from_db()
    if role in OWNER_ACTIONS_ALLOWED:
        assert dialog.status_code == 200 and 'name="amount" value="700.00"' in dialog.content.decode()
        assert response.status_code == 200 and lead.stage == Stage.WON
    else:
        for refused in (dialog, response):
            assert refused.status_code == 422 and refused["HX-Retarget"] == "#board"
            assert "Your role does not allow this action on this lead." in refused.content.decode()
        assert lead.stage == Stage.NEGOTIATION and not Order.objects.exists()
        plain = _close(client, lead, {"outcome": "won", "amount": "700.00", "seen_stage": "negotiation"}, htmx=False)
        assert plain.status_code == 403


# --- show more, query counts ---------------------------------------------------------------------------------


def _fill_board(n: int, seller) -> None:
    """n leads in every column, with values, tags and owners; half of them entered their stage before the board
    kept that time (null), which the column order puts last."""
    now = timezone.now()
    for stage in BOARD_STAGES:
        for i in range(n):
            LeadFactory(
                stage=stage,
                owner=None if stage == Stage.NEW else seller,
                deal_value=Decimal(100 + i),
                stage_entered_at=None if i % 2 else now - timedelta(minutes=i),
            )


def _count(client, url, **kwargs):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, **kwargs)
    assert response.status_code == 200, url
    return len(ctx.captured_queries), response


@pytest.mark.parametrize("n", [2, 40])
def test_the_board_page_and_a_column_keep_a_fixed_number_of_queries(client_as, settings, n):
    settings.RELAY_BOARD_PAGE_SIZE = 10
    seller = make_user("sales")
    _fill_board(n, seller)
    client = client_as(user=seller)
    # session, user, groups, unread count, sums (GROUP BY), card ids, cards, tags + the filter form's selects
    pages, page = _count(client, "/leads/board/")
    assert pages <= 12, pages
    assert len(_card_ids(page.content.decode())) == len(BOARD_STAGES) * min(n, 10)
    # session, user, groups, unread count, cards, tags
    columns, column = _count(client, "/leads/board/contacted/more/?cursor=")
    assert columns <= 6, columns
    assert len(_card_ids(column.content.decode())) == min(n, 10)
    # the move answer: session, user, groups, the lead, the move (lock, history, segment mark, update), the card,
    # its tags, the two headers
    with CaptureQueriesContext(connection) as ctx:
        lead = Lead.objects.filter(stage=Stage.CONTACTED).first()
        assert _move(client, lead, "proposal", "contacted").status_code == 200
    assert len(ctx.captured_queries) <= 20, len(ctx.captured_queries)


def test_query_counts_do_not_grow_with_the_board(client_as, settings):
    settings.RELAY_BOARD_PAGE_SIZE = 10
    seller = make_user("sales")
    client = client_as(user=seller)
    _fill_board(2, seller)
    small = (_count(client, "/leads/board/")[0], _count(client, "/leads/board/contacted/more/?cursor=")[0])
    _fill_board(38, seller)
    large = (_count(client, "/leads/board/")[0], _count(client, "/leads/board/contacted/more/?cursor=")[0])
    assert small == large


def test_load_more_pages_through_a_column_newest_in_stage_first(client_as, settings):
    """Ties on the time broken by id; a lead without its stage time (none since the backfill) counts from its
    creation."""
    settings.RELAY_BOARD_PAGE_SIZE = 3
    seller = make_user("sales")
    client = client_as(user=seller)
    now = timezone.now()
    for hours in (0, 30, 2, 9, 9, 9, 1):
        LeadFactory(stage=Stage.QUALIFIED, owner=seller, stage_entered_at=now - timedelta(hours=hours))
    undated = [LeadFactory(stage=Stage.QUALIFIED, owner=seller, stage_entered_at=None) for _ in range(2)]
    Lead.objects.filter(pk=undated[0].pk).update(created_at=now - timedelta(hours=5))
    Lead.objects.filter(pk=undated[1].pk).update(created_at=now - timedelta(days=5))
    rows = Lead.objects.values_list("pk", "stage_entered_at", "created_at")
    expected = [pk for pk, _at, _created in sorted(rows, key=lambda r: (r[1] or r[2], r[0]), reverse=True)]

    body = client.get("/leads/board/").content.decode()
    seen = _card_ids(_column(body, "qualified"))
    more = re.search(r'hx-get="(/leads/board/qualified/more/[^"]+)"', body)
    while more:
        part = client.get(more.group(1).replace("&amp;", "&")).content.decode()
        seen += _card_ids(part)
        more = re.search(r'hx-get="(/leads/board/qualified/more/[^"]+)"', part)
    assert seen == expected and len(seen) == 9


@pytest.mark.parametrize("cursor", ["junk", "2026-13-45T00:00:00|3", "|x", "nodate"])
def test_a_malformed_cursor_starts_the_column_over(client_as, cursor):
    seller = make_user("sales")
    lead = lead_through(Stage.QUALIFIED, owner=seller)
    response = client_as(user=seller).get("/leads/board/qualified/more/", {"cursor": cursor})
    assert response.status_code == 200 and _card_ids(response.content.decode()) == [lead.pk]


@pytest.mark.parametrize("role", ROLES)
def test_every_role_reads_the_board_and_loads_more_of_a_column(client_as, settings, role):
    settings.RELAY_BOARD_PAGE_SIZE = 1
    seller = make_user("sales")
    first, second = (lead_through(Stage.PROPOSAL, owner=seller) for _ in range(2))
    client = client_as(role)
    page = client.get("/leads/board/").content.decode()
    assert _card_ids(_column(page, "proposal")) == [second.pk]
    more = re.search(r'hx-get="(/leads/board/proposal/more/[^"]+)"', page).group(1).replace("&amp;", "&")
    response = client.get(more)
    assert response.status_code == 200 and _card_ids(response.content.decode()) == [first.pk]


def test_an_unknown_column_is_404(client_as):
    assert client_as("sales").get("/leads/board/nowhere/more/").status_code == 404


# --- the deal value -------------------------------------------------------------------------------------------


def test_the_api_takes_and_gives_the_deal_value(api_as):
    marketer = make_user("marketing")
    api = api_as(user=marketer)
    created = api.post(
        "/api/v1/leads/", {"contact": {"name": "Li", "phone": "13700000001"}, "deal_value": "12500"}, format="json"
    )
    assert created.status_code == 201, created.json()
    assert created.json()["deal_value"] == "12500.00"
    pk = created.json()["id"]
    assert api.get(f"/api/v1/leads/{pk}/").json()["deal_value"] == "12500.00"
    listed = {row["id"]: row for row in api.get("/api/v1/leads/").json()["results"]}
    assert listed[pk]["deal_value"] == "12500.00"
    patched = api.patch(f"/api/v1/leads/{pk}/", {"deal_value": None}, format="json")
    assert patched.status_code == 200 and patched.json()["deal_value"] is None
    negative = api.patch(f"/api/v1/leads/{pk}/", {"deal_value": "-1"}, format="json")
    assert negative.status_code == 400
    assert [e["field"] for e in negative.json()["errors"]] == ["deal_value"]
    assert Lead.objects.get(pk=pk).deal_value is None


@pytest.mark.parametrize("role", ROLES)
def test_who_sets_the_deal_value_of_a_lead_in_sales(api_as, role):
    """The owner and sales managers (and admins) keep the value of an open sales lead; nobody else does, and
    nobody changes the package of a lead sales holds by sending the deal value with it."""
    owner = make_user("sales")
    lead = lead_through(Stage.QUALIFIED, owner=owner)
    response = api_as(role).patch(f"/api/v1/leads/{lead.pk}/", {"deal_value": "800.50"}, format="json")
    lead.refresh_from_db()
    if role in OWNER_ACTIONS_ALLOWED:
        assert response.status_code == 200 and lead.deal_value == Decimal("800.50")
    else:
        assert response.status_code == 403 and lead.deal_value is None
    mine = api_as(user=owner).patch(f"/api/v1/leads/{lead.pk}/", {"deal_value": "900", "interest": "x"}, format="json")
    assert mine.status_code == 403  # the package stays marketing's


def test_a_closed_leads_deal_value_is_settled(api_as):
    seller = make_user("sales")
    lead = lead_through(Stage.LOST, owner=seller, deal_value="100.00")
    assert api_as(user=seller).patch(f"/api/v1/leads/{lead.pk}/", {"deal_value": "1"}, format="json").status_code == 403


def test_the_lead_forms_take_the_deal_value(client_as):
    marketer = make_user("marketing")
    client = client_as(user=marketer)
    created = client.post("/leads/new/", {"name": "Zhao Lei", "phone": "13700000002", "deal_value": "3000.00"})
    assert created.status_code == 302
    lead = Lead.objects.get(customer__name="Zhao Lei")
    assert lead.deal_value == Decimal("3000.00")
    form = client.get(f"/leads/{lead.pk}/edit/").content.decode()
    assert 'name="deal_value" value="3000.00"' in form and 'name="interest"' in form
    edited = client.post(f"/leads/{lead.pk}/edit/", {"interest": "Annual plan", "deal_value": "3500"})
    assert edited.status_code == 302
    lead.refresh_from_db()
    assert (lead.deal_value, lead.interest) == (Decimal("3500.00"), "Annual plan")
    negative = client.post(f"/leads/{lead.pk}/edit/", {"deal_value": "-3"})
    assert negative.status_code == 422 and 'data-field="deal_value"' in negative.content.decode()


def test_sales_edits_only_the_deal_value_of_its_lead(client_as):
    seller = make_user("sales")
    lead = lead_through(Stage.PROPOSAL, owner=seller, interest="Starter plan")
    client = client_as(user=seller)
    form = client.get(f"/leads/{lead.pk}/edit/").content.decode()
    assert 'name="deal_value"' in form and 'name="interest"' not in form
    saved = client.post(f"/leads/{lead.pk}/edit/", {"deal_value": "7777.70", "interest": "hijacked"})
    assert saved.status_code == 302
    lead.refresh_from_db()
    assert (lead.deal_value, lead.interest) == (Decimal("7777.70"), "Starter plan")
    assert client_as("sales").get(f"/leads/{lead.pk}/edit/").status_code == 403  # another seller
    assert client_as("marketing_manager").get(f"/leads/{lead.pk}/edit/").status_code == 403  # sales holds it


def test_a_negative_deal_value_never_reaches_the_table():
    from django.db import IntegrityError, transaction

    lead = LeadFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Lead.objects.filter(pk=lead.pk).update(deal_value=Decimal("-1.00"))
