"""The journey engine (DESIGN.md "Journeys"): each step at most once per enrolment however often its task runs,
even after a worker dies mid-step; waits that are rows, not countdowns; paused journeys that hold; steps removed
or moved under enrolments that are under way; goals that convert; entering once unless re-entry."""

from datetime import timedelta

import pytest
from django.db import OperationalError

from config.models import JobStatus, Notification, OutboxMessage, Task
from customers import services as customer_services
from marketing import journeys, sending, tasks
from marketing.models import (
    Enrolment,
    EnrolmentStatus,
    JourneyStep,
    Message,
    MessageStatus,
    StepRun,
    StepRunStatus,
)
from tests.factories import LeadFactory, TagFactory, make_user
from tests.marketing.journey_support import NOW, committing, content, emailable, frozen_clock, live_journey, record

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock(settings):
    yield from frozen_clock(settings)


def _signed_up(customer, capture, external_id="s1"):
    with committing(capture):
        record(customer, "signed_up", external_id=external_id)
    return Enrolment.objects.get(customer=customer)


# ---------------------------------------------------------------- exactly once


def test_a_step_runs_once_when_its_task_runs_twice(clock, django_capture_on_commit_callbacks):
    item = content()
    live_journey([{"kind": "send", "content": item.pk, "channel": "email"}])
    enrolment = _signed_up(emailable(), django_capture_on_commit_callbacks)

    with committing(django_capture_on_commit_callbacks):
        assert tasks.advance_enrolment(enrolment.pk) == "ended"  # the first delivery completed it
        tasks.advance_enrolment(enrolment.pk)

    assert Message.objects.filter(enrolment=enrolment).count() == 1
    run = StepRun.objects.get(enrolment=enrolment)
    assert (run.status, run.message.status) == (StepRunStatus.DONE, MessageStatus.SENT)
    enrolment.refresh_from_db()
    assert enrolment.status == EnrolmentStatus.COMPLETED


def test_a_worker_dying_mid_step_leaves_the_claim_and_the_retry_sends_once(
    clock, django_capture_on_commit_callbacks, monkeypatch
):
    """The claim is committed before the effect; the effect and the run's end commit together. A worker that dies
    in between (here: the database connection drops during the send) leaves a running claim and no message; the
    retried task finds the claim, sends once and finishes the step."""
    item = content()
    live_journey([{"kind": "send", "content": item.pk, "channel": "email"}])
    real_send = sending.send_message

    def dies(**kwargs):
        real_send(**kwargs)  # the message is written…
        raise OperationalError("server closed the connection unexpectedly")  # …and the worker is gone

    monkeypatch.setattr(sending, "send_message", dies)
    customer = emailable()
    with committing(django_capture_on_commit_callbacks):
        record(customer, "signed_up", external_id="s1")
    enrolment = Enrolment.objects.get(customer=customer)
    run = StepRun.objects.get(enrolment=enrolment)
    assert run.status == StepRunStatus.RUNNING and not Message.objects.exists()
    failed = OutboxMessage.objects.get(task="marketing.tasks.advance_enrolment")
    assert failed.status == JobStatus.QUEUED and "server closed" in failed.error  # to be run again

    monkeypatch.setattr(sending, "send_message", real_send)
    with committing(django_capture_on_commit_callbacks):
        tasks.advance_enrolment(enrolment.pk)  # the retry
        tasks.advance_enrolment(enrolment.pk)  # and a duplicate delivery of it

    assert StepRun.objects.filter(enrolment=enrolment).count() == 1
    assert Message.objects.filter(step_run=run).count() == Message.objects.count() == 1
    run.refresh_from_db()
    assert run.status == StepRunStatus.DONE


def test_a_claim_whose_effect_was_made_is_finished_without_a_second_effect(clock, django_capture_on_commit_callbacks):
    """Each effect is keyed by its run: a claimed task step whose task exists, a send whose message exists, are
    finished by the retry without opening or sending another."""
    item = content()
    journey = live_journey(
        [
            {"kind": "task", "title": "Call them", "due_hours": 4, "assignee": "sales"},
            {"kind": "send", "content": item.pk, "channel": "email"},
        ]
    )
    customer = emailable()
    enrolment = Enrolment.objects.create(journey=journey, customer=customer, trigger_key="k", entered_at=NOW)
    first, second = JourneyStep.objects.filter(journey=journey).order_by("position")
    task_run = StepRun.objects.create(enrolment=enrolment, step=first, started_at=NOW)
    task_run.task = Task.objects.create(title="Call them", department="sales")
    task_run.save()
    send_run = StepRun.objects.create(enrolment=enrolment, step=second, started_at=NOW)
    sending.send_message(customer=customer, item=item, channel="email", step_run=send_run, enrolment=enrolment)

    with committing(django_capture_on_commit_callbacks):
        assert tasks.advance_enrolment(enrolment.pk) == "completed"

    assert Task.objects.count() == 1 and Message.objects.count() == 1
    assert set(StepRun.objects.values_list("status", flat=True)) == {StepRunStatus.DONE}


def test_task_and_notify_steps_make_one_task_and_one_notification_each(clock, django_capture_on_commit_callbacks):
    owner = make_user("sales")
    managers = [make_user("marketing_manager"), make_user("marketing_manager")]
    live_journey(
        [
            {"kind": "task", "title": "Call them", "due_hours": 24, "assignee": "owner"},
            {"kind": "notify", "role": "marketing_manager", "message": "A sign-up to look at."},
        ],
        manager=managers[0],
    )
    customer = emailable()
    LeadFactory(customer=customer, accepted=True, owner=owner)
    enrolment = _signed_up(customer, django_capture_on_commit_callbacks)
    with committing(django_capture_on_commit_callbacks):
        tasks.advance_enrolment(enrolment.pk)

    task = Task.objects.get()
    assert (task.assignee, task.title, task.due_at) == (owner, "Call them", NOW + timedelta(hours=24))
    assert task.about == customer
    notified = Notification.objects.filter(kind="marketing.journey")
    assert sorted(n.recipient_id for n in notified) == sorted(m.pk for m in managers)
    assert {n.message for n in notified} == {"A sign-up to look at."}


def test_an_owner_task_without_an_owner_goes_to_the_sales_queue(clock, django_capture_on_commit_callbacks):
    live_journey([{"kind": "task", "title": "Qualify", "due_hours": 0, "assignee": "owner"}])
    _signed_up(emailable(), django_capture_on_commit_callbacks)
    task = Task.objects.get()
    assert (task.assignee, task.department, task.due_at) == (None, "sales", NOW)


# ---------------------------------------------------------------- waits


def test_a_wait_is_a_row_the_beat_picks_up_when_due(clock, django_capture_on_commit_callbacks):
    item = content()
    live_journey(
        [
            {"kind": "wait", "hours": 48},
            {"kind": "send", "content": item.pk, "channel": "email"},
        ]
    )
    enrolment = _signed_up(emailable(), django_capture_on_commit_callbacks)
    enrolment.refresh_from_db()
    assert (enrolment.next_position, enrolment.next_run_at) == (1, NOW + timedelta(hours=48))

    clock.shift(timedelta(hours=47, minutes=59))
    with committing(django_capture_on_commit_callbacks):
        assert tasks.run_due_enrolments() == 0
        assert tasks.advance_enrolment(enrolment.pk) == "waiting"  # a stray delivery does not jump the wait
    assert not Message.objects.exists()

    clock.shift(timedelta(minutes=1))
    with committing(django_capture_on_commit_callbacks):
        assert tasks.run_due_enrolments() == 1
        assert tasks.run_due_enrolments() == 0  # queued once
    message = Message.objects.get()
    assert message.sent_at == NOW + timedelta(hours=48)
    enrolment.refresh_from_db()
    assert (enrolment.status, enrolment.ended_at) == (EnrolmentStatus.COMPLETED, NOW + timedelta(hours=48))


# ---------------------------------------------------------------- pause


def test_a_paused_journey_holds_its_enrolments_and_resuming_goes_on(clock, django_capture_on_commit_callbacks):
    item = content()
    manager = make_user("marketing_manager")
    journey = live_journey(
        [
            {"kind": "wait", "hours": 1},
            {"kind": "send", "content": item.pk, "channel": "email"},
            {"kind": "task", "title": "Follow up", "due_hours": 2, "assignee": "marketing"},
        ],
        manager=manager,
    )
    enrolment = _signed_up(emailable(), django_capture_on_commit_callbacks)
    journeys.pause_journey(journey=journey, by=manager)

    clock.shift(timedelta(hours=3))
    with committing(django_capture_on_commit_callbacks):
        assert tasks.run_due_enrolments() == 0
        assert tasks.advance_enrolment(enrolment.pk) == "held"
        record(emailable("Bo"), "signed_up", external_id="s2")  # a paused journey enrols no one
    assert not Message.objects.exists() and not Task.objects.exists()
    assert Enrolment.objects.count() == 1

    with committing(django_capture_on_commit_callbacks):
        journeys.activate_journey(journey=journey, by=manager)
    assert Message.objects.count() == 1 and Task.objects.count() == 1
    enrolment.refresh_from_db()
    assert enrolment.status == EnrolmentStatus.COMPLETED


# ---------------------------------------------------------------- editing under way


def test_removing_the_next_step_mid_journey_does_not_strand_anyone(clock, django_capture_on_commit_callbacks):
    first, second = content("First"), content("Second")
    journey = live_journey(
        [
            {"kind": "wait", "hours": 24},
            {"kind": "send", "content": first.pk, "channel": "email"},
            {"kind": "send", "content": second.pk, "channel": "email"},
        ]
    )
    enrolment = _signed_up(emailable(), django_capture_on_commit_callbacks)
    wait, send_first, send_second = JourneyStep.objects.filter(journey=journey).order_by("position")

    journeys.remove_step(step=send_first, by=make_user("marketing"))

    send_first.refresh_from_db()
    assert send_first.is_removed and JourneyStep.objects.filter(journey=journey).count() == 3
    clock.shift(timedelta(hours=24))
    with committing(django_capture_on_commit_callbacks):
        tasks.run_due_enrolments()
    assert list(Message.objects.values_list("item__title", flat=True)) == ["Second"]
    enrolment.refresh_from_db()
    assert enrolment.status == EnrolmentStatus.COMPLETED
    assert not StepRun.objects.filter(step=send_first).exists()


def test_steps_added_ahead_run_and_those_added_behind_do_not(clock, django_capture_on_commit_callbacks):
    behind, ahead, last = content("Behind"), content("Ahead"), content("Last")
    marketer = make_user("marketing")
    journey = live_journey(
        [{"kind": "wait", "hours": 24}, {"kind": "send", "content": last.pk, "channel": "email"}], by=marketer
    )
    enrolment = _signed_up(emailable(), django_capture_on_commit_callbacks)  # past the wait (position 0)

    journeys.add_step(
        journey=journey, by=marketer, step={"kind": "send", "content": behind.pk, "channel": "email"}, position=0
    )
    journeys.add_step(
        journey=journey, by=marketer, step={"kind": "send", "content": ahead.pk, "channel": "email"}, position=2
    )
    enrolment.refresh_from_db()
    assert enrolment.next_position == 2  # its place moved with the wait it had passed
    assert [s.config["content"] for s in JourneyStep.objects.filter(journey=journey, kind="send")] == [
        behind.pk,
        ahead.pk,
        last.pk,
    ]

    clock.shift(timedelta(hours=24))
    with committing(django_capture_on_commit_callbacks):
        tasks.run_due_enrolments()
    assert list(Message.objects.order_by("pk").values_list("item__title", flat=True)) == ["Ahead", "Last"]


def test_moving_a_step_that_already_ran_below_does_not_run_it_again(clock, django_capture_on_commit_callbacks):
    item = content()
    marketer = make_user("marketing")
    journey = live_journey(
        [
            {"kind": "send", "content": item.pk, "channel": "email"},
            {"kind": "wait", "hours": 1},
            {"kind": "task", "title": "Call", "due_hours": 1, "assignee": "sales"},
        ],
        by=marketer,
    )
    enrolment = _signed_up(emailable(), django_capture_on_commit_callbacks)
    send = JourneyStep.objects.get(journey=journey, kind="send")
    journeys.move_step(step=send, by=marketer, offset=1)
    journeys.move_step(step=send, by=marketer, offset=1)  # now last: wait, task, send

    clock.shift(timedelta(hours=1))
    with committing(django_capture_on_commit_callbacks):
        tasks.run_due_enrolments()
    assert Message.objects.count() == 1 and Task.objects.count() == 1
    enrolment.refresh_from_db()
    assert enrolment.status == EnrolmentStatus.COMPLETED


# ---------------------------------------------------------------- goals, re-entry, audience


def test_the_goal_event_converts_the_enrolment_and_no_step_runs_after(clock, django_capture_on_commit_callbacks):
    item = content()
    live_journey(
        [{"kind": "wait", "hours": 24}, {"kind": "send", "content": item.pk, "channel": "email"}], goal="activated"
    )
    customer = emailable()
    enrolment = _signed_up(customer, django_capture_on_commit_callbacks)
    clock.shift(timedelta(hours=5))
    with committing(django_capture_on_commit_callbacks):
        record(customer, "activated", external_id="a1")
    enrolment.refresh_from_db()
    assert (enrolment.status, enrolment.ended_at) == (EnrolmentStatus.CONVERTED, NOW + timedelta(hours=5))

    clock.shift(timedelta(hours=24))
    with committing(django_capture_on_commit_callbacks):
        assert tasks.run_due_enrolments() == 0
        assert tasks.advance_enrolment(enrolment.pk) == "ended"
    assert not Message.objects.exists()


def test_an_order_goal_converts(clock, django_capture_on_commit_callbacks):
    live_journey([{"kind": "wait", "hours": 24}], goal="order.placed")
    customer = emailable()
    enrolment = _signed_up(customer, django_capture_on_commit_callbacks)
    customer_services.place_order(customer=customer, amount="99.00", ordered_at=NOW, by=make_user("sales"))
    enrolment.refresh_from_db()
    assert enrolment.status == EnrolmentStatus.CONVERTED


def test_a_customer_enters_once_without_reentry(clock, django_capture_on_commit_callbacks):
    live_journey([{"kind": "wait", "hours": 1}])
    customer = emailable()
    _signed_up(customer, django_capture_on_commit_callbacks)
    clock.shift(timedelta(days=2))
    with committing(django_capture_on_commit_callbacks):
        tasks.run_due_enrolments()  # completes it
        record(customer, "signed_up", external_id="s2")
    assert Enrolment.objects.filter(customer=customer).count() == 1
    assert Enrolment.objects.get(customer=customer).trigger_key == f"{customer.pk}:once"


def test_with_reentry_a_customer_enters_again_after_leaving_but_not_while_in(clock, django_capture_on_commit_callbacks):
    live_journey([{"kind": "wait", "hours": 24}], reentry=True)
    customer = emailable()
    first = _signed_up(customer, django_capture_on_commit_callbacks)
    with committing(django_capture_on_commit_callbacks):
        record(customer, "signed_up", external_id="s2")  # still in: not again
    assert Enrolment.objects.filter(customer=customer).count() == 1

    clock.shift(timedelta(hours=24))
    with committing(django_capture_on_commit_callbacks):
        tasks.run_due_enrolments()
    with committing(django_capture_on_commit_callbacks):
        record(customer, "signed_up", external_id="s3")
    first.refresh_from_db()
    assert first.status == EnrolmentStatus.COMPLETED
    assert Enrolment.objects.filter(customer=customer, status=EnrolmentStatus.ACTIVE).count() == 1
    assert Enrolment.objects.filter(customer=customer).count() == 2


def test_the_same_trigger_delivered_twice_enrols_once(clock):
    journey = live_journey([{"kind": "wait", "hours": 24}], reentry=True)
    customer = emailable()
    event = {"event": 41, "customer": customer.pk, "type": "signed_up", "at": NOW}
    first = journeys.hear("customer.event", [event])
    second = journeys.hear("customer.event", [event])
    assert len(first) == 1 and second == []
    assert Enrolment.objects.get(journey=journey).trigger_key == f"{customer.pk}:event.41"


def test_the_audience_filters_who_enters(clock, django_capture_on_commit_callbacks):
    live_journey([{"kind": "wait", "hours": 1}], audience={"stage": ["decision"], "tags": ["VIP"]})
    inside, wrong_stage, no_tag = emailable("In"), emailable("Stage"), emailable("Tag")
    for customer in (inside, no_tag):
        type(customer).objects.filter(pk=customer.pk).update(lifecycle_stage="decision")
    LeadFactory(customer=inside).tags.add(TagFactory(name="vip"))  # tags match whatever their case
    LeadFactory(customer=wrong_stage).tags.add(TagFactory(name="VIP"))
    LeadFactory(customer=no_tag).tags.add(TagFactory(name="VIP-other"))
    with committing(django_capture_on_commit_callbacks):
        for index, customer in enumerate((inside, wrong_stage, no_tag)):
            record(customer, "signed_up", external_id=f"s{index}")
    assert list(Enrolment.objects.values_list("customer__name", flat=True)) == ["In"]


def test_a_merged_customer_exits(clock, django_capture_on_commit_callbacks):
    live_journey([{"kind": "wait", "hours": 1}, {"kind": "wait", "hours": 1}])
    customer = emailable()
    enrolment = _signed_up(customer, django_capture_on_commit_callbacks)
    survivor = emailable("Survivor")
    type(customer).objects.filter(pk=customer.pk).update(merged_into=survivor)
    clock.shift(timedelta(hours=1))
    with committing(django_capture_on_commit_callbacks):
        tasks.run_due_enrolments()
    enrolment.refresh_from_db()
    assert enrolment.status == EnrolmentStatus.EXITED


def test_a_refused_send_fails_its_step_and_the_journey_goes_on(clock, django_capture_on_commit_callbacks):
    item = content()
    live_journey(
        [
            {"kind": "send", "content": item.pk, "channel": "email"},
            {"kind": "task", "title": "Call", "due_hours": 1, "assignee": "sales"},
        ]
    )
    item.is_active = False  # switched off after the journey was activated
    item.save()
    enrolment = _signed_up(emailable(), django_capture_on_commit_callbacks)
    runs = list(StepRun.objects.filter(enrolment=enrolment).order_by("step__position"))
    assert [r.status for r in runs] == [StepRunStatus.FAILED, StepRunStatus.DONE]
    assert runs[0].note == "This content is switched off."
    assert not Message.objects.exists() and Task.objects.count() == 1


def test_a_skipped_message_is_a_skipped_step(clock, django_capture_on_commit_callbacks):
    item = content()
    live_journey([{"kind": "send", "content": item.pk, "channel": "sms"}])  # the customer has no phone
    enrolment = _signed_up(emailable(), django_capture_on_commit_callbacks)
    run = StepRun.objects.get(enrolment=enrolment)
    message = Message.objects.get()
    assert (run.status, message.status, message.skip_reason) == (StepRunStatus.SKIPPED, "skipped", "no_address")
    assert run.note == f"Message #{message.pk} skipped: no address."


def test_each_enrolment_keeps_its_place_when_a_step_is_inserted(clock):
    """Steps A B C; enrolments before A, past A, past B and past C. X goes in between A and B: it is ahead of the
    first two (they will run it), behind the others (their places move by one)."""
    marketer = make_user("marketing")
    journey = live_journey([{"kind": "wait", "hours": h} for h in (1, 2, 3)], by=marketer)
    for place in range(4):
        Enrolment.objects.create(
            journey=journey,
            customer=emailable(f"P{place}"),
            next_position=place,
            entered_at=NOW,
            trigger_key=f"k{place}",
        )
    journeys.add_step(journey=journey, by=marketer, step={"kind": "wait", "hours": 9}, position=1)
    places = dict(Enrolment.objects.values_list("customer__name", "next_position"))
    assert places == {"P0": 0, "P1": 1, "P2": 3, "P3": 4}
    assert [s.config["hours"] for s in JourneyStep.objects.filter(journey=journey).order_by("position")] == [1, 9, 2, 3]
