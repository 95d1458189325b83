"""Tracking (DESIGN.md "Content"): the open pixel and the click redirect, signed per message, stamp the first open
and click; the redirect only ever leads to the item's own URLs; a lead, an order or the journey's goal event within
RELAY_ATTRIBUTION_DAYS converts the customer's latest message, once."""

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
import time_machine

from customers import services as customer_services
from customers.models import IdentityKind
from leads import services as lead_services
from marketing import services as marketing_services
from marketing import tracking
from marketing.models import Journey, Message
from tests.factories import (
    ChannelFactory,
    ContentItemFactory,
    ContentVariantFactory,
    CustomerFactory,
    CustomerIdentityFactory,
    MessageFactory,
    make_user,
)
from tests.webhook_events import endpoints_for, sent

pytestmark = pytest.mark.django_db

NOW = datetime.fromisoformat("2026-03-10T10:00:00+08:00")
OFFER = "https://example.com/offer"


@pytest.fixture(autouse=True)
def _clock(settings):
    settings.RELAY_ATTRIBUTION_DAYS = 7
    with time_machine.travel(NOW, tick=False):
        yield


def _message(**kwargs) -> Message:
    item = ContentItemFactory(urls=[OFFER, "https://shop.example.com/p?id=7&ref=mail"])
    return MessageFactory(
        **{"variant": ContentVariantFactory(item=item), "sent_at": NOW - timedelta(hours=1), **kwargs}
    )


def _open_path(message) -> str:
    return f"/m/o/{tracking.token(message.pk, tracking.OPEN)}.gif"


def _click_path(message) -> str:
    return f"/m/c/{tracking.token(message.pk, tracking.CLICK)}/"


# --- opens and clicks -----------------------------------------------------------------------------------------------


def test_the_pixel_is_a_gif_that_stamps_the_first_open_only(client, django_assert_max_num_queries):
    message = _message()
    with django_assert_max_num_queries(3):
        first = client.get(_open_path(message))
    assert first.status_code == 200 and first["Content-Type"] == "image/gif"
    assert first.content.startswith(b"GIF89a") and len(first.content) == 42
    assert "no-cache" in first["Cache-Control"]
    with time_machine.travel(NOW + timedelta(hours=2), tick=False):
        assert client.get(_open_path(message)).status_code == 200
    message.refresh_from_db()
    assert message.opened_at == NOW


def test_a_click_redirects_to_the_items_url_and_stamps_click_and_open_once(client, django_assert_max_num_queries):
    message = _message()
    with django_assert_max_num_queries(3):
        response = client.get(_click_path(message), {"u": OFFER})
    assert (response.status_code, response["Location"]) == (302, OFFER)
    message.refresh_from_db()
    assert message.clicked_at == message.opened_at == NOW
    with time_machine.travel(NOW + timedelta(days=1), tick=False):
        # The same link spelled differently (host case, default port) is the same URL; the stamps stay the first.
        again = client.get(_click_path(message), {"u": "HTTPS://Example.COM:443/offer"})
        assert (again.status_code, again["Location"]) == (302, OFFER)
        client.get(_open_path(message))
    message.refresh_from_db()
    assert message.clicked_at == message.opened_at == NOW


def test_a_click_keeps_an_open_stamped_before():
    message = _message(opened_at=NOW - timedelta(minutes=30))
    assert tracking.record_click(token_value=tracking.token(message.pk, tracking.CLICK), url=OFFER) == OFFER
    message.refresh_from_db()
    assert (message.opened_at, message.clicked_at) == (NOW - timedelta(minutes=30), NOW)


def test_a_query_string_url_of_the_item_redirects(client):
    message = _message()
    response = client.get(_click_path(message), {"u": "https://shop.example.com/p?id=7&ref=mail"})
    assert (response.status_code, response["Location"]) == (302, "https://shop.example.com/p?id=7&ref=mail")


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example.net/",
        "https://example.com/offer/../../evil",
        "https://example.com/offerx",
        "//evil.example.net/",
        "javascript:alert(1)",
        "https://example.com@evil.example.net/offer",
        "",
    ],
)
def test_a_url_not_on_the_item_is_a_harmless_404(client, url):
    message = _message()
    response = client.get(_click_path(message), {"u": url})
    assert response.status_code == 404 and "Location" not in response
    assert response["Content-Type"].startswith("text/plain")
    message.refresh_from_db()
    assert message.clicked_at is None and message.opened_at is None


def test_forged_or_broken_tokens_are_404s_and_stamp_nothing(client):
    message = _message()
    other = _message()
    good_open, good_click = tracking.token(message.pk, tracking.OPEN), tracking.token(message.pk, tracking.CLICK)
    tampered = f"{other.pk}:{good_open.split(':', 1)[1]}"  # another message's id under this one's signature
    for token in ("nonsense", f"{message.pk}", f"{message.pk}:", tampered, good_click, good_open[:-2]):
        assert client.get(f"/m/o/{token}.gif").status_code == 404
    for token in ("nonsense", good_open, good_click[:-3] + "abc", tampered.replace(good_open, good_click)):
        assert client.get(f"/m/c/{token}/", {"u": OFFER}).status_code == 404
    for row in Message.objects.all():
        assert row.opened_at is None and row.clicked_at is None


def test_a_message_never_sent_is_not_stamped(client):
    message = _message(status="skipped", sent_at=None, skip_reason="cap")
    assert client.get(_open_path(message)).status_code == 200  # the pixel never tells what exists
    assert client.get(_click_path(message), {"u": OFFER}).status_code == 404
    message.refresh_from_db()
    assert message.opened_at is None and message.clicked_at is None


def test_the_links_in_an_email_lead_to_these_endpoints(settings):
    settings.RELAY_TRACKING_BASE_URL = "https://relay.example.com/"
    message = _message()
    assert tracking.open_url(message.pk) == "https://relay.example.com" + _open_path(message)
    click = tracking.click_url(message.pk, OFFER)
    assert click.startswith("https://relay.example.com" + _click_path(message) + "?u=https%3A%2F%2Fexample.com")


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("https://Example.com", "https://example.com/"),
        ("HTTP://example.com:80/a?b=1#c", "http://example.com/a?b=1#c"),
        ("https://example.com:8443/a", "https://example.com:8443/a"),
        ("https://[::1]:8443/", "https://[::1]:8443/"),
        ("  https://example.com/a  ", "https://example.com/a"),
        ("ftp://example.com/", None),
        ("example.com/offer", None),
        ("https://user:pw@example.com/", None),
        ("https://exa mple.com/", None),
        ("https://example.com:99999/", None),
        ("https:///path", None),
        (42, None),
    ],
)
def test_urls_are_compared_in_one_spelling(raw, normal):
    assert tracking.normalize_url(raw) == normal


# --- conversions ----------------------------------------------------------------------------------------------------


def _sent(customer, *, days_ago: float, journey=None) -> Message:
    return MessageFactory(customer=customer, journey=journey, sent_at=NOW - timedelta(days=days_ago))


def test_a_lead_within_seven_days_converts_the_latest_message_once():
    marketing = make_user("marketing")
    customer = CustomerFactory()
    older = _sent(customer, days_ago=5)
    latest = _sent(customer, days_ago=2)
    MessageFactory(customer=customer, status="skipped", sent_at=None, skip_reason="cap")  # never sent: not counted
    lead_services.create_lead(by=marketing, customer=customer, source_channel=ChannelFactory(code="web"))
    latest.refresh_from_db()
    older.refresh_from_db()
    assert (latest.converted_at, latest.conversion_kind) == (NOW, "lead")
    assert older.converted_at is None
    with time_machine.travel(NOW + timedelta(hours=1), tick=False):  # a second lead: the conversion stays the first
        lead_services.create_lead(by=marketing, customer=customer, source_channel=ChannelFactory(code="web"))
    latest.refresh_from_db()
    assert (latest.converted_at, latest.conversion_kind) == (NOW, "lead")
    assert Message.objects.filter(converted_at__isnull=False).count() == 1


def test_an_order_after_eight_days_converts_nothing_and_within_seven_does():
    sales = make_user("sales")
    late, on_time = CustomerFactory(), CustomerFactory()
    stale = _sent(late, days_ago=8)
    fresh = _sent(on_time, days_ago=7)  # exactly seven days: still within
    channel = ChannelFactory(code="shop")
    for customer in (late, on_time):
        customer_services.place_order(
            by=sales, customer=customer, amount=Decimal("80.00"), ordered_at=NOW, channel=channel, external_id=""
        )
    stale.refresh_from_db()
    fresh.refresh_from_db()
    assert stale.converted_at is None
    assert (fresh.converted_at, fresh.conversion_kind) == (NOW, "order")


def test_an_order_placed_before_the_message_does_not_convert_it():
    customer = CustomerFactory()
    message = _sent(customer, days_ago=1)
    assert tracking.record_conversion(customer_id=customer.pk, kind="order", at=NOW - timedelta(days=2)) is None
    message.refresh_from_db()
    assert message.converted_at is None


def test_the_journeys_goal_event_converts_only_that_journeys_message():
    customer = CustomerFactory()
    CustomerIdentityFactory(customer=customer, kind=IdentityKind.EMAIL, value="ada@example.com")
    welcome = Journey.objects.create(name="Welcome", trigger={"type": "signed_up"}, goal="activated")
    other = Journey.objects.create(name="Offers", trigger={"type": "order.placed"}, goal="purchase")
    goal_message = _sent(customer, days_ago=3, journey=welcome)
    newer_other = _sent(customer, days_ago=1, journey=other)
    marketing_services.record_event(
        by=make_user("marketing"), customer=customer, type="activated", at=NOW, source="app", external_id="a-1"
    )
    goal_message.refresh_from_db()
    newer_other.refresh_from_db()
    assert (goal_message.converted_at, goal_message.conversion_kind) == (NOW, "goal")
    assert newer_other.converted_at is None
    marketing_services.record_event(  # a page view is nobody's goal
        by=make_user("marketing"), customer=customer, type="page_view", at=NOW, source="app", external_id="p-1"
    )
    assert Message.objects.filter(converted_at__isnull=False).count() == 1


def test_a_new_lead_is_announced_as_lead_created_to_webhooks():
    wanted, others = endpoints_for("lead.created")
    customer = CustomerFactory()
    lead, _matched = lead_services.create_lead(
        by=make_user("marketing"), customer=customer, source_channel=ChannelFactory(code="web")
    )
    [(event_type, data)] = sent(wanted)
    assert event_type == "lead.created"
    assert (data["lead"], data["customer"], data["source_channel"]) == (lead.pk, customer.pk, "web")
    assert sent(others, "lead.created") == []
