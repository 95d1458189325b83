"""Pages: the board (htmx move, counts, load more), filters shared by page and API, my queue, nav."""

from datetime import timedelta

import pytest
from django.utils import timezone

from leads.stages import Stage
from tests.factories import CampaignFactory, ChannelFactory, CustomerFactory, TagFactory, lead_through, make_user

pytestmark = pytest.mark.django_db


def test_board_move_with_htmx_answers_both_columns(client_as):
    seller = make_user("sales")
    lead = lead_through(Stage.CONTACTED, owner=seller)
    client = client_as(user=seller)
    page = client.get("/leads/board/")
    assert page.status_code == 200 and 'id="board"' in page.content.decode()
    assert f'hx-post="/leads/{lead.pk}/board-move/"' in page.content.decode()
    response = client.post(
        f"/leads/{lead.pk}/board-move/",
        {"stage": "proposal", "seen_stage": "contacted", "board_query": ""},
        HTTP_HX_REQUEST="true",
    )
    body = response.content.decode()
    assert response.status_code == 200
    # Only the two columns change (tests/leads/test_board.py): their headers, out of band, and the card itself.
    assert "<html" not in body and response["HX-Reswap"] == "none"
    assert 'id="head-proposal" hx-swap-oob="true"' in body and 'id="head-contacted" hx-swap-oob="true"' in body
    assert 'data-testid="count-proposal">1<' in body and 'data-testid="count-contacted">0<' in body
    assert f'hx-swap-oob="delete:#lead-card-{lead.pk}"' in body
    assert f'<ul hx-swap-oob="afterbegin:#cards-proposal"><li class="card lead-card" id="lead-card-{lead.pk}"' in body
    lead.refresh_from_db()
    assert lead.stage == Stage.PROPOSAL


def test_board_move_refused_comes_back_as_422_with_the_reason(client_as):
    seller = make_user("sales")
    lead = lead_through(Stage.CONTACTED, owner=seller)
    client = client_as(user=seller)
    lead_moved_elsewhere = client.post(
        f"/leads/{lead.pk}/board-move/", {"stage": "proposal", "seen_stage": "accepted"}, HTTP_HX_REQUEST="true"
    )
    assert lead_moved_elsewhere.status_code == 422
    assert "changed while you were working on it" in lead_moved_elsewhere.content.decode()
    lead.refresh_from_db()
    assert lead.stage == Stage.CONTACTED


def test_board_move_refused_for_permission_is_shown_in_place(client_as):
    """htmx swaps 2xx and 422 only: a 403 would leave the card where it was with no word said."""
    seller, other_seller = make_user("sales"), make_user("sales")
    lead = lead_through(Stage.CONTACTED, owner=seller)
    page = client_as(user=seller)
    # The board was drawn for the owner; a manager reassigns the lead before the owner moves the card.
    lead.owner = other_seller
    lead.save(update_fields=["owner"])
    response = page.post(
        f"/leads/{lead.pk}/board-move/",
        {"stage": "proposal", "seen_stage": "contacted", "board_query": ""},
        HTTP_HX_REQUEST="true",
    )
    body = response.content.decode()
    assert response.status_code == 422
    assert 'id="board"' in body and "<html" not in body
    assert 'class="error board-error" role="alert">Your role does not allow this action on this lead.' in body
    # The message sits above the columns, not as a grid cell squeezed in among them, and is scrolled into view.
    assert response["HX-Reswap"] == "outerHTML show:#board:top"
    assert body.index("board-error") < body.index('class="board leads-board"')
    assert f"/leads/{lead.pk}/board-move/" not in body  # the redrawn card offers no move any more
    # A plain form post (no htmx) gets the 403 page.
    plain = page.post(f"/leads/{lead.pk}/board-move/", {"stage": "proposal", "seen_stage": "contacted"})
    assert plain.status_code == 403
    lead.refresh_from_db()
    assert lead.stage == Stage.CONTACTED
    assert not lead.stage_changes.filter(to_stage=Stage.PROPOSAL).exists()


def test_board_without_htmx_redirects_back(client_as):
    seller = make_user("sales")
    lead = lead_through(Stage.ACCEPTED, owner=seller)
    response = client_as(user=seller).post(
        f"/leads/{lead.pk}/board-move/", {"stage": "negotiation", "seen_stage": "accepted", "board_query": "mine=true"}
    )
    assert response.status_code == 302 and response["Location"] == f"/leads/board/?mine=true#lead-card-{lead.pk}"


def test_board_partial_for_htmx_varies(client_as):
    client = client_as("sales")
    response = client.get("/leads/board/", HTTP_HX_REQUEST="true")
    assert "HX-Request" in response["Vary"] and "<html" not in response.content.decode()


def test_cards_offer_moves_only_to_their_owner(client_as):
    seller = make_user("sales")
    lead = lead_through(Stage.QUALIFIED, owner=seller)
    assert f"/leads/{lead.pk}/board-move/" in client_as(user=seller).get("/leads/board/").content.decode()
    assert f"/leads/{lead.pk}/board-move/" not in client_as("sales").get("/leads/board/").content.decode()


def _ids(response):
    return sorted(r["id"] for r in response.json()["results"])


def test_filters_are_the_same_on_the_page_and_the_api(client_as, api_as):
    channel = ChannelFactory(code="xhs")
    campaign = CampaignFactory(channel=channel)
    seller = make_user("sales")
    vip = TagFactory(name="vip")
    a = lead_through(
        Stage.HANDED_OFF,
        owner=seller,
        source_channel=channel,
        campaign=campaign,
        now=timezone.now() - timedelta(hours=30),
    )
    a.tags.add(vip)
    b = lead_through(Stage.CONTACTED, owner=seller, customer=CustomerFactory(name="Zhou Jielun"))
    b.is_high_intent = True
    b.save()
    c = lead_through(Stage.NEW)
    cases = {
        "stage=handed_off": [a],
        "stage=handed_off&stage=new": [a, c],
        f"owner={seller.pk}": [a, b],
        "tag=vip": [a],
        "channel=xhs": [a],
        f"campaign={campaign.pk}": [a],
        "high_intent=true": [b],
        "sla_breached=true": [a],
        "q=jielun": [b],
        # `a` was created 30 hours ago: always before today's local midnight.
        f"created_after={timezone.localdate():%Y-%m-%d}": [b, c],
        f"created_after={timezone.localdate(a.created_at):%Y-%m-%d}": [a, b, c],
    }
    api = api_as("marketing")
    client = client_as("marketing")
    for query, expected in cases.items():
        want = sorted(lead.pk for lead in expected)
        assert _ids(api.get(f"/api/v1/leads/?{query}")) == want, query
        page = client.get(f"/leads/?{query}").content.decode()
        for lead in (a, b, c):
            assert (f'href="/leads/{lead.pk}/"' in page) == (lead.pk in want), (query, lead.pk)


def test_my_queue_per_role(client_as):
    marketer, seller = make_user("marketing"), make_user("sales")
    new = lead_through(Stage.NEW, marketer=marketer)
    rejected = lead_through(Stage.HANDED_OFF, marketer=marketer, owner=seller)
    from leads import services

    services.reject_lead(lead=rejected, by=seller, reason="no_need")
    waiting = lead_through(Stage.HANDED_OFF, owner=seller)
    pooled = lead_through(Stage.HANDED_OFF, pool=True)
    working = lead_through(Stage.PROPOSAL, owner=seller)

    page = client_as(user=marketer).get("/leads/queue/").content.decode()
    assert 'data-section="to_hand_off"' in page and 'data-section="rejected"' in page
    assert f"/leads/{new.pk}/" in page and f"/leads/{rejected.pk}/" in page
    assert f"/leads/{waiting.pk}/" not in page

    page = client_as(user=seller).get("/leads/queue/").content.decode()
    for lead in (waiting, pooled, working):
        assert f"/leads/{lead.pk}/" in page
    assert f"/leads/{new.pk}/" not in page


def test_nav_per_role(client_as):
    page = client_as("sales").get("/leads/").content.decode()
    for link in ("/leads/queue/", "/leads/board/", "/leads/pool/"):
        assert f'href="{link}"' in page
    page = client_as("service").get("/leads/").content.decode()
    assert 'href="/leads/board/"' in page and 'href="/leads/pool/"' not in page


def test_tags_api(api_as):
    api = api_as("marketing")
    created = api.post("/api/v1/tags/", {"name": "  VIP  "}, format="json")
    assert created.status_code == 201 and created.json()["name"] == "VIP"
    again = api.post("/api/v1/tags/", {"name": "vip"}, format="json")
    assert again.json()["id"] == created.json()["id"]
    assert [t["name"] for t in api.get("/api/v1/tags/").json()["results"]] == ["VIP"]
    assert api_as("service").post("/api/v1/tags/", {"name": "x"}, format="json").status_code == 403


def test_customer_timeline_has_lead_events():
    from leads.selectors import timeline_events

    lead = lead_through(Stage.WON)
    events = timeline_events(lead.customer_id, 50)
    kinds = [e.kind for e in events]
    assert kinds[0] == "lead.stage_changed" and kinds[-1] == "lead.created"
    assert events[0].url == f"/leads/{lead.pk}/"
    assert any("handed off" in e.text for e in events)


def test_customer_timeline_names_reasons():
    from leads import services
    from leads.selectors import timeline_events

    seller = make_user("sales")
    lead = lead_through(Stage.HANDED_OFF, owner=seller)
    services.reject_lead(lead=lead, by=seller, reason="other", reason_text="Moved abroad")
    assert "rejected by sales (Other: Moved abroad)" in timeline_events(lead.customer_id, 10)[0].text
