"""Journeys under real concurrency (PostgreSQL row locks): the same enrolment advanced by two workers at once runs
each step once; the same customer triggered twice at once enters once; two beats queue a due enrolment once."""

from datetime import timedelta

import pytest
from django.utils import timezone

from config.models import OutboxMessage, Task
from marketing import journeys
from marketing.models import Enrolment, Message, StepRun, StepRunStatus
from tests.factories import CustomerFactory
from tests.marketing.journey_support import content, emailable, live_journey
from tests.races import at_once

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_two_workers_advancing_one_enrolment_run_each_step_once(settings):
    settings.RELAY_QUIET_HOURS = None
    item = content()
    journey = live_journey(
        [
            {"kind": "send", "content": item.pk, "channel": "email"},
            {"kind": "task", "title": "Call", "due_hours": 1, "assignee": "sales"},
            {"kind": "notify", "role": "owner"},
        ]
    )
    enrolments = [
        Enrolment.objects.create(
            journey=journey, customer=emailable(f"C{i}"), trigger_key=f"k{i}", entered_at=timezone.now()
        )
        for i in range(5)
    ]
    for enrolment in enrolments:
        at_once(*[lambda pk=enrolment.pk: journeys.advance_enrolment(enrolment_id=pk)] * 3)
    assert Message.objects.count() == 5
    assert Task.objects.count() == 5
    assert StepRun.objects.count() == 15
    assert set(StepRun.objects.values_list("status", flat=True)) == {StepRunStatus.DONE, StepRunStatus.SKIPPED}
    assert set(Enrolment.objects.values_list("status", flat=True)) == {"completed"}


def test_two_deliveries_of_triggers_for_one_customer_enrol_once():
    journey = live_journey([{"kind": "wait", "hours": 1}])
    customer = CustomerFactory()
    now = timezone.now()
    first = {"event": 1, "customer": customer.pk, "type": "signed_up", "at": now}
    second = {"event": 2, "customer": customer.pk, "type": "signed_up", "at": now}
    at_once(lambda: journeys.hear("customer.event", [first]), lambda: journeys.hear("customer.event", [second]))
    assert Enrolment.objects.filter(journey=journey, customer=customer).count() == 1


def test_two_beats_queue_a_due_enrolment_once():
    journey = live_journey([{"kind": "wait", "hours": 1}])
    due = timezone.now() - timedelta(minutes=1)
    for i in range(30):
        Enrolment.objects.create(
            journey=journey, customer=CustomerFactory(), trigger_key=f"k{i}", entered_at=due, next_run_at=due
        )
    counts = at_once(journeys.run_due_enrolments, journeys.run_due_enrolments)
    assert sum(counts) == 30
    queued = OutboxMessage.objects.filter(task="marketing.tasks.advance_enrolment")
    assert sorted(m.args[0] for m in queued) == sorted(Enrolment.objects.values_list("pk", flat=True))
