"""Touchpoints Relay writes itself (DESIGN.md "Touchpoints ... written by Relay itself for its own messages and
leads"): a visit on each new lead's source channel, a message touch for each message sent on a channel Relay
knows — each once, in the writer's transaction — and a merge that hands the duplicate's touchpoints to the
survivor."""

from datetime import timedelta

import pytest
from django.db import transaction

from config.errors import DomainError
from customers.models import IdentityKind
from marketing import sending, tasks, touchpoints
from marketing.models import Message, MessageStatus, Touchpoint
from tests.factories import (
    CampaignFactory,
    ChannelFactory,
    CustomerFactory,
    CustomerIdentityFactory,
    TouchpointFactory,
)
from tests.marketing.journey_support import NOW, committing, content, emailable, frozen_clock, live_journey, record

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock(settings):
    yield from frozen_clock(settings)


def _touches() -> list[tuple]:
    return list(
        Touchpoint.objects.order_by("pk").values_list(
            "customer_id", "channel__code", "campaign_id", "kind", "at", "external_id"
        )
    )


# ---------------------------------------------------------------- leads


def test_a_lead_from_a_source_channel_is_a_visit_on_it_in_its_campaign(api_as, clock):
    douyin = ChannelFactory(code="douyin")
    campaign = CampaignFactory(channel=douyin)
    response = api_as("marketing").post(
        "/api/v1/leads/",
        {"contact": {"name": "Li Na", "phone": "13800000001"}, "source_channel": "douyin", "campaign": campaign.pk},
        format="json",
    )
    assert response.status_code == 201, response.content
    lead = response.json()
    assert _touches() == [(lead["customer"], "douyin", campaign.pk, "visit", NOW, f"lead:{lead['id']}")]


def test_a_lead_without_a_source_channel_is_no_touchpoint(api_as, clock):
    response = api_as("marketing").post("/api/v1/leads/", {"contact": {"phone": "13800000002"}}, format="json")
    assert response.status_code == 201, response.content
    assert not Touchpoint.objects.exists()


def test_a_campaign_of_another_channel_is_left_off_the_visit(api_as, clock):
    ChannelFactory(code="douyin")
    elsewhere = CampaignFactory(channel=ChannelFactory(code="wechat"))
    response = api_as("marketing").post(
        "/api/v1/leads/",
        {"contact": {"phone": "13800000003"}, "source_channel": "douyin", "campaign": elsewhere.pk},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert [(code, campaign) for _c, code, campaign, *_rest in _touches()] == [("douyin", None)]


def test_leads_sent_in_bulk_are_a_visit_each_and_a_repeated_announcement_writes_nothing(api_as, clock):
    ChannelFactory(code="douyin")
    items = [{"contact": {"phone": f"1380000001{i}"}, "source_channel": "douyin"} for i in range(3)]
    results = api_as("marketing").post("/api/v1/leads/bulk/", items, format="json").json()
    assert [r["status"] for r in results] == [201, 201, 201]
    assert sorted(e for *_rest, e in _touches()) == sorted(f"lead:{r['id']}" for r in results)
    first = results[0]
    # The same lead.created heard again (a retried publisher): the touchpoint it made is the answer.
    again = touchpoints.lead_created(lead=first["id"], customer=first["customer"], source_channel="douyin", at=NOW)
    assert again is None and Touchpoint.objects.count() == 3
    twice = touchpoints.record_own_touchpoint(
        customer_id=first["customer"], channel_code="douyin", kind="visit", at=NOW, external_id=f"lead:{first['id']}"
    )
    assert twice == Touchpoint.objects.get(external_id=f"lead:{first['id']}")
    assert Touchpoint.objects.count() == 3


def test_a_lead_refused_writes_no_touchpoint(api_as, clock):
    ChannelFactory(code="douyin")
    response = api_as("marketing").post(
        "/api/v1/leads/", {"contact": {"phone": "12"}, "source_channel": "douyin"}, format="json"
    )
    assert response.status_code == 400
    assert not Touchpoint.objects.exists()


# ---------------------------------------------------------------- messages


def test_a_message_sent_on_a_channel_relay_knows_is_a_message_touch(clock):
    email = ChannelFactory(code="email", name="Email")
    customer = emailable()
    message = sending.send_message(customer=customer, item=content(), channel="email")
    assert message.status == MessageStatus.SENT
    assert _touches() == [(customer.pk, "email", None, "message", NOW, f"message:{message.pk}")]
    assert Touchpoint.objects.get().channel == email


def test_no_channel_of_that_code_no_touch_and_a_skipped_message_no_touch(clock):
    ChannelFactory(code="email")
    ChannelFactory(code="wechat", is_active=False)
    customer = emailable()
    CustomerIdentityFactory(customer=customer, kind=IdentityKind.PHONE, value="+8613800000009")
    CustomerIdentityFactory(customer=customer, kind=IdentityKind.WECHAT, value="wx_ada")
    item = content()
    sms = sending.send_message(customer=customer, item=item, channel="sms")  # no channel "sms"
    wechat = sending.send_message(customer=customer, item=item, channel="wechat")  # switched off
    no_address = sending.send_message(customer=CustomerFactory(), item=item, channel="email")
    assert (sms.status, wechat.status, no_address.status) == ("sent", "sent", "skipped")
    assert not Touchpoint.objects.exists()


def test_a_queued_message_is_a_touch_when_it_is_sent_after_the_quiet_hours(clock):
    ChannelFactory(code="email")
    customer = emailable()
    clock.move_to(NOW.replace(hour=22))
    message = sending.send_message(customer=customer, item=content(), channel="email")
    assert message.status == MessageStatus.QUEUED and not Touchpoint.objects.exists()
    morning = NOW.replace(hour=9, minute=30) + timedelta(days=1)
    clock.move_to(morning)
    assert sending.release_queued_messages(now=morning) == 1
    assert _touches() == [(customer.pk, "email", None, "message", morning, f"message:{message.pk}")]


def test_the_touch_is_written_in_the_send_s_transaction(clock):
    ChannelFactory(code="email")
    customer = emailable()
    with pytest.raises(DomainError), transaction.atomic():
        sending.send_message(customer=customer, item=content(), channel="email")
        raise DomainError("the caller's transaction fails after the send")
    assert not Message.objects.exists() and not Touchpoint.objects.exists()


def test_a_journey_s_send_step_is_a_touch_once_however_often_its_task_runs(clock, django_capture_on_commit_callbacks):
    ChannelFactory(code="email")
    live_journey([{"kind": "send", "content": content().pk, "channel": "email"}])
    customer = emailable()
    with committing(django_capture_on_commit_callbacks):
        record(customer, "signed_up", external_id="s1")
    enrolment = customer.enrolments.get()
    with committing(django_capture_on_commit_callbacks):
        tasks.advance_enrolment(enrolment.pk)
        tasks.advance_enrolment(enrolment.pk)
    message = Message.objects.get(enrolment=enrolment)
    assert _touches() == [(customer.pk, "email", None, "message", NOW, f"message:{message.pk}")]


# ---------------------------------------------------------------- merges


def test_a_merge_hands_the_duplicate_s_touchpoints_to_the_survivor(api_as, clock):
    survivor, duplicate = CustomerFactory(), CustomerFactory()
    douyin = ChannelFactory(code="douyin")
    kept = TouchpointFactory(customer=survivor, channel=douyin, external_id="dy-1")
    moved = TouchpointFactory.create_batch(2, customer=duplicate, channel=douyin)
    response = api_as("marketing_manager").post(
        f"/api/v1/customers/{survivor.pk}/merge/", {"duplicate": duplicate.pk}, format="json"
    )
    assert response.status_code == 200, response.content
    assert sorted(Touchpoint.objects.filter(customer=survivor).values_list("pk", flat=True)) == sorted(
        [kept.pk, *(t.pk for t in moved)]
    )
    assert not Touchpoint.objects.filter(customer=duplicate).exists()
    # The tombstone's id still records on the survivor.
    recorded = touchpoints.record_touchpoint(by=None, channel="douyin", kind="click", at=NOW, customer=duplicate.pk)
    assert recorded.touchpoint.customer_id == survivor.pk
