"""A journey's send step with `"recommend": true` (DESIGN.md "Commerce": journeys send with a recommendation): the
message carries the customer's recommendations, names and prices in their language, through the journey engine;
without recommendations it carries the content alone. The step's shape is checked like the others."""

from datetime import time, timedelta

import pytest
import time_machine
from django.core import mail
from django.urls import reverse

from config.events import EVENT_TYPES
from config.models import OutboxMessage
from customers import affinity
from customers.models import IdentityKind
from marketing import journeys, sending
from marketing.models import JourneyStep, Message, MessageStatus
from tests.customers.affinity_fixture import MIN_SUPPORT, NOW, make_shop
from tests.factories import CustomerIdentityFactory, make_user
from tests.marketing.journey_support import committing, content, live_journey, record

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock(settings):
    settings.RELAY_QUIET_HOURS = (time(21, 0), time(9, 0))
    settings.RELAY_MAX_MESSAGES_PER_WEEK = 3
    settings.RELAY_TRACKING_BASE_URL = "https://relay.example.com"
    settings.RELAY_AFFINITY_MIN_SUPPORT = MIN_SUPPORT
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def shop(clock):
    made = make_shop()
    affinity.refresh_affinity(now=NOW)
    return made


def _reachable(customer, kind=IdentityKind.EMAIL, value=None):
    CustomerIdentityFactory(customer=customer, kind=kind, value=value or f"{customer.name}@example.com")
    return customer


def _welcome(recommend=True, channel="email"):
    item = content("Welcome")
    step = {"kind": "send", "content": item.pk, "channel": channel}
    if recommend is not None:
        step["recommend"] = recommend
    return live_journey([step])


def _signed_up(customer, capture):
    with committing(capture):
        record(customer, "signed_up", external_id=f"signup-{customer.pk}")


def test_the_email_lists_the_customers_recommendations_best_first(shop, django_capture_on_commit_callbacks):
    _welcome()
    _signed_up(_reachable(shop.customers["c10"]), django_capture_on_commit_callbacks)
    (email,) = mail.outbox
    # c10 bought A long ago: B (0.6) then C (0.4).
    paragraphs = email.body.split("\n\n")
    assert paragraphs[1].startswith("Hello! https://relay.example.com/m/c/")  # the content, its link tracked
    assert paragraphs[2] == "You may also like:\n- Toy car, CNY\u00a0129.00\n- Kids tee, CNY\u00a059.00"
    html = email.alternatives[0][0]
    assert html.index("Toy car") < html.index("Kids tee")
    assert Message.objects.get().status == MessageStatus.SENT


def test_in_the_customers_language(shop, django_capture_on_commit_callbacks):
    _welcome()
    customer = shop.customers["c2"]
    customer.language = "zh-hans"
    customer.save(update_fields=["language"])
    _signed_up(_reachable(customer), django_capture_on_commit_callbacks)
    (email,) = mail.outbox
    # c2 bought A B: C (0.5), its price as Chinese writes it.
    assert email.body.rstrip().split("\n\n--")[0].endswith("- Kids tee，¥59.00")


def test_without_recommendations_the_content_goes_alone(shop, django_capture_on_commit_callbacks):
    _welcome()
    _signed_up(_reachable(shop.customers["c6"]), django_capture_on_commit_callbacks)  # bought D: no pair
    (email,) = mail.outbox
    paragraphs = email.body.split("\n\n")
    assert paragraphs[1].startswith("Hello! https://relay.example.com/m/c/") and paragraphs[2].startswith("--")


def test_a_step_without_recommend_sends_the_content_alone(shop, django_capture_on_commit_callbacks):
    _welcome(recommend=None)
    _signed_up(_reachable(shop.customers["c10"]), django_capture_on_commit_callbacks)
    (email,) = mail.outbox
    assert "Toy car" not in email.body


def test_sms_and_wechat_messages_carry_them_in_the_message_send_event(
    shop, django_capture_on_commit_callbacks, monkeypatch
):
    published, publish = [], sending.events.publish

    def spy(event_type, **payload):
        published.append((event_type, payload))
        return publish(event_type, **payload)

    monkeypatch.setattr(sending.events, "publish", spy)
    _welcome(channel="sms")
    _signed_up(
        _reachable(shop.customers["c4"], IdentityKind.PHONE, "+8613800000004"), django_capture_on_commit_callbacks
    )
    (body,) = [payload["body"] for event_type, payload in published if event_type == "message.send"]
    assert body.endswith("You may also like:\n- Toy car, CNY\u00a0129.00")  # c4 bought A C E: B (2/3)
    assert "message.send" in EVENT_TYPES


def test_a_queued_email_gets_the_recommendations_when_it_goes_out(shop, django_capture_on_commit_callbacks, clock):
    _welcome()
    clock.move_to(NOW.replace(hour=22))  # the quiet hours: queued until 09:00
    _signed_up(_reachable(shop.customers["c10"]), django_capture_on_commit_callbacks)
    assert Message.objects.get().status == MessageStatus.QUEUED and mail.outbox == []
    shop.products["B"].is_active = False  # switched off in the night
    shop.products["B"].save(update_fields=["is_active"])
    clock.move_to((NOW + timedelta(days=1)).replace(hour=9, minute=1))
    with committing(django_capture_on_commit_callbacks):
        assert sending.release_queued_messages() == 1
    (email,) = mail.outbox
    assert "You may also like:\n- Kids tee, CNY\u00a059.00" in email.body and "Toy car" not in email.body


# ---------------------------------------------------------------- the step's shape


def test_the_api_takes_recommend_and_shows_it(api_as, shop):
    item = content("Cross-sell")
    api = api_as("marketing")
    payload = {
        "name": "Cross-sell",
        "trigger": {"type": "order.placed"},
        "steps": [{"kind": "send", "content": item.pk, "channel": "email", "recommend": True}],
    }
    response = api.post("/api/v1/journeys/", payload, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["steps"][0]["recommend"] is True
    assert JourneyStep.objects.get().config == {"content": item.pk, "channel": "email", "recommend": True}


@pytest.mark.parametrize(
    ("step", "field"),
    [
        ({"kind": "send", "channel": "email", "recommend": "yes"}, "steps[0].recommend"),
        ({"kind": "send", "channel": "email", "recommend": 1}, "steps[0].recommend"),
        ({"kind": "wait", "hours": 2, "recommend": True}, "steps[0].recommend"),
    ],
)
def test_a_bad_recommend_is_a_400_naming_it(api_as, shop, step, field):
    item = content("Cross-sell")
    if step["kind"] == "send":
        step = {**step, "content": item.pk}
    response = api_as("marketing").post(
        "/api/v1/journeys/", {"name": "X", "trigger": {"type": "order.placed"}, "steps": [step]}, format="json"
    )
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert not OutboxMessage.objects.filter(task__startswith="marketing.").exists()


def test_the_builder_page_adds_a_recommending_send_step(client_as, shop):
    item = content("Cross-sell")
    journey = journeys.create_journey(by=make_user("marketing"), name="Builder", trigger={"type": "order.placed"})
    client = client_as("marketing")
    page = client.get(reverse("marketing:journey-detail", args=[journey.pk])).content.decode()
    assert 'name="recommend"' in page
    response = client.post(
        reverse("marketing:journey-step-add", args=[journey.pk]),
        {"kind": "send", "content": str(item.pk), "channel": "email", "recommend": "on"},
    )
    assert response.status_code in (200, 302)
    step = JourneyStep.objects.get(journey=journey)
    assert step.config == {"content": item.pk, "channel": "email", "recommend": True}
    text = journeys.step_summary(step.kind, step.config, {item.pk: item.title})
    assert text.endswith("with the customer's product recommendations")
    client.post(
        reverse("marketing:journey-step-add", args=[journey.pk]),
        {"kind": "send", "content": str(item.pk), "channel": "sms"},
    )
    assert JourneyStep.objects.get(journey=journey, config__channel="sms").config == {
        "content": item.pk,
        "channel": "sms",
    }
