"""Sending under concurrency, on PostgreSQL (SQLite serialises writers): racing sends to one customer never both take
the last place under the weekly cap; a step run's task delivered twice at once writes one message; two beats release
a queued message once."""

from datetime import datetime, time, timedelta

import pytest
import time_machine

from customers.models import IdentityKind
from marketing import sending
from marketing.models import Enrolment, Journey, JourneyStep, Message, StepKind, StepRun
from tests.factories import ContentVariantFactory, CustomerFactory, CustomerIdentityFactory, MessageFactory
from tests.races import at_once

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

NOW = datetime.fromisoformat("2026-03-10T10:00:00+08:00")


@pytest.fixture(autouse=True)
def _rules(settings):
    settings.RELAY_QUIET_HOURS = (time(21, 0), time(9, 0))
    settings.RELAY_MAX_MESSAGES_PER_WEEK = 3


def _customer():
    customer = CustomerFactory()
    CustomerIdentityFactory(customer=customer, kind=IdentityKind.PHONE, value="+8613800000077")
    return customer


def test_racing_sends_never_pass_the_weekly_cap():
    customer, item = _customer(), ContentVariantFactory().item
    for days in (1, 2):
        MessageFactory(customer=customer, variant=item.variants.get(), sent_at=NOW - timedelta(days=days))
    statuses = at_once(*[lambda: sending.send_message(customer=customer, item=item, channel="sms", now=NOW).status] * 4)
    assert sorted(statuses) == ["sent", "skipped", "skipped", "skipped"]
    assert Message.objects.filter(customer=customer, status="sent").count() == 3


def test_a_step_run_delivered_twice_at_once_writes_one_message():
    customer, item = _customer(), ContentVariantFactory().item
    journey = Journey.objects.create(name="Welcome", trigger={"type": "signed_up"})
    step = JourneyStep.objects.create(journey=journey, position=0, kind=StepKind.SEND, config={})
    enrolment = Enrolment.objects.create(journey=journey, customer=customer, entered_at=NOW, trigger_key="k")
    run = StepRun.objects.create(enrolment=enrolment, step=step, started_at=NOW)

    def send():
        return sending.send_message(customer=customer, item=item, channel="sms", step_run=run, now=NOW).pk

    ids = at_once(*[send] * 4)
    assert len(set(ids)) == 1
    assert Message.objects.count() == 1 and Message.objects.get().status == "sent"


def test_two_beats_release_a_queued_message_once():
    customer, item = _customer(), ContentVariantFactory().item
    message = sending.send_message(
        customer=customer, item=item, channel="sms", now=datetime.fromisoformat("2026-03-10T23:00:00+08:00")
    )
    assert message.status == "queued"
    with time_machine.travel(datetime.fromisoformat("2026-03-11T09:00:00+08:00"), tick=False):
        assert sorted(at_once(sending.release_queued_messages, sending.release_queued_messages)) == [0, 1]
    message.refresh_from_db()
    assert message.status == "sent"
