"""Sending (DESIGN.md "Sending"): one service for every send, and its rules in one place — the weekly cap, the
quiet hours, unsubscribes, the address a channel needs — exactly one message per journey step run, email after
commit through the outbox, and the `message.send` event for the channels integrations deliver."""

import smtplib
from datetime import datetime, time, timedelta

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from config import outbox
from config.env import env_daily_window
from config.errors import DomainError
from config.models import JobStatus, OutboxMessage
from customers.models import IdentityKind
from marketing import sending, tasks, tracking
from marketing.models import (
    Enrolment,
    Experiment,
    ExperimentGoal,
    ExperimentStatus,
    Journey,
    JourneyStep,
    Message,
    StepKind,
    StepRun,
    Unsubscribe,
)
from tests.factories import (
    ContentItemFactory,
    ContentVariantFactory,
    CustomerFactory,
    CustomerIdentityFactory,
    MessageFactory,
)
from tests.webhook_events import endpoints_for, sent

pytestmark = pytest.mark.django_db

NOW = datetime.fromisoformat("2026-03-10T10:00:00+08:00")  # a Tuesday morning, outside the quiet hours


@pytest.fixture(autouse=True)
def _clock(settings):
    settings.RELAY_QUIET_HOURS = (time(21, 0), time(9, 0))
    settings.RELAY_MAX_MESSAGES_PER_WEEK = 3
    settings.RELAY_TRACKING_BASE_URL = "https://relay.example.com"
    with time_machine.travel(NOW, tick=False):
        yield


def _customer(email="ada@example.com", **identities):
    customer = CustomerFactory(name="Ada")
    if email:
        CustomerIdentityFactory(customer=customer, kind=IdentityKind.EMAIL, value=email)
    for kind, value in identities.items():
        CustomerIdentityFactory(customer=customer, kind=kind, value=value)
    return customer


def _item(**kwargs):
    variant = ContentVariantFactory(
        title="Spring offer",
        body="Hello! See https://example.com/offer and https://elsewhere.example.org/x.",
        item=ContentItemFactory(urls=["https://example.com/offer"], **kwargs),
    )
    return variant.item


def _step_run(customer):
    journey = Journey.objects.create(name="Welcome", trigger={"type": "signed_up"}, goal="activated")
    step = JourneyStep.objects.create(journey=journey, position=0, kind=StepKind.SEND, config={})
    enrolment = Enrolment.objects.create(journey=journey, customer=customer, entered_at=NOW, trigger_key="t-1")
    return StepRun.objects.create(enrolment=enrolment, step=step, started_at=NOW)


# --- the weekly cap -----------------------------------------------------------------------------------------------


def test_the_fourth_message_in_seven_days_is_skipped_across_journeys_and_channels(
    django_capture_on_commit_callbacks,
):
    customer, item = _customer(phone="+8613800000009"), _item()
    with django_capture_on_commit_callbacks(execute=True):
        sent_ = [
            sending.send_message(customer=customer, item=item, channel="email", now=NOW - timedelta(days=d))
            for d in (6, 3, 1)
        ]
        fourth = sending.send_message(customer=customer, item=item, channel="sms", now=NOW)
    assert [m.status for m in sent_] == ["sent"] * 3
    assert (fourth.status, fourth.skip_reason, fourth.sent_at) == ("skipped", "cap", None)
    assert len(mail.outbox) == 3


def test_a_message_older_than_seven_days_no_longer_counts_toward_the_cap():
    customer, item = _customer(), _item()
    MessageFactory(customer=customer, variant=item.variants.get(), sent_at=NOW - timedelta(days=7))  # just out
    for days in (2, 1):
        MessageFactory(customer=customer, variant=item.variants.get(), sent_at=NOW - timedelta(days=days))
    MessageFactory(customer=customer, variant=item.variants.get(), status="skipped", sent_at=None, skip_reason="cap")
    message = sending.send_message(customer=customer, item=item, channel="email", now=NOW)
    assert message.status == "sent"
    again = sending.send_message(customer=customer, item=item, channel="email", now=NOW)
    assert (again.status, again.skip_reason) == ("skipped", "cap")


# --- the quiet hours ----------------------------------------------------------------------------------------------


def test_a_send_at_22_is_queued_until_9_and_the_beat_sends_it_then(django_capture_on_commit_callbacks):
    customer, item = _customer(), _item()
    evening = datetime.fromisoformat("2026-03-10T22:00:00+08:00")
    with time_machine.travel(evening, tick=False), django_capture_on_commit_callbacks(execute=True):
        message = sending.send_message(customer=customer, item=item, channel="email")
    assert message.status == "queued"
    assert message.scheduled_for == datetime.fromisoformat("2026-03-11T09:00:00+08:00")
    assert mail.outbox == []

    with time_machine.travel(datetime.fromisoformat("2026-03-11T08:59:00+08:00"), tick=False):
        assert tasks.release_queued_messages.delay().get() == 0  # not yet
    message.refresh_from_db()
    assert message.status == "queued"

    morning = datetime.fromisoformat("2026-03-11T09:00:30+08:00")
    with time_machine.travel(morning, tick=False), django_capture_on_commit_callbacks(execute=True):
        assert tasks.release_queued_messages.delay().get() == 1
        assert tasks.release_queued_messages.delay().get() == 0  # a second run finds nothing left
    message.refresh_from_db()
    assert (message.status, message.sent_at) == ("sent", morning)
    assert len(mail.outbox) == 1


@pytest.mark.parametrize(
    ("at", "until"),
    [
        ("2026-03-10T21:00:00+08:00", "2026-03-11T09:00:00+08:00"),
        ("2026-03-11T02:30:00+08:00", "2026-03-11T09:00:00+08:00"),
        ("2026-03-11T08:59:59+08:00", "2026-03-11T09:00:00+08:00"),
        ("2026-03-11T09:00:00+08:00", None),
        ("2026-03-10T20:59:59+08:00", None),
    ],
)
def test_quiet_hours_run_past_midnight(at, until):
    expected = datetime.fromisoformat(until) if until else None
    assert sending.quiet_until(datetime.fromisoformat(at)) == expected


def test_a_window_within_one_day_and_none(settings):
    settings.RELAY_QUIET_HOURS = (time(12, 0), time(14, 0))
    assert sending.quiet_until(datetime.fromisoformat("2026-03-10T13:00:00+08:00")) == datetime.fromisoformat(
        "2026-03-10T14:00:00+08:00"
    )
    assert sending.quiet_until(datetime.fromisoformat("2026-03-10T22:00:00+08:00")) is None
    settings.RELAY_QUIET_HOURS = None
    assert sending.quiet_until(datetime.fromisoformat("2026-03-10T22:00:00+08:00")) is None


def test_a_queued_message_is_checked_again_when_released(django_capture_on_commit_callbacks):
    customer, item = _customer(), _item()
    evening = datetime.fromisoformat("2026-03-10T23:00:00+08:00")
    with time_machine.travel(evening, tick=False):
        capped = sending.send_message(customer=customer, item=item, channel="email")
        other = _customer(email="bob@example.com")
        unsubscribed = sending.send_message(customer=other, item=item, channel="email")
    assert capped.status == unsubscribed.status == "queued"
    # Overnight: three messages reach the first customer (sent before the quiet hours by another route), the
    # second unsubscribes.
    for hours in (1, 2, 3):
        MessageFactory(customer=customer, variant=item.variants.get(), sent_at=evening - timedelta(hours=hours + 2))
    Unsubscribe.objects.create(customer=other, channel="email", at=evening)
    morning = datetime.fromisoformat("2026-03-11T09:01:00+08:00")
    with time_machine.travel(morning, tick=False), django_capture_on_commit_callbacks(execute=True):
        assert sending.release_queued_messages() == 2
    capped.refresh_from_db()
    unsubscribed.refresh_from_db()
    assert (capped.status, capped.skip_reason) == ("skipped", "cap")
    assert (unsubscribed.status, unsubscribed.skip_reason) == ("skipped", "unsubscribed")
    assert mail.outbox == []


def test_quiet_hours_are_parsed_at_startup_with_a_clear_error(monkeypatch):
    monkeypatch.setenv("RELAY_QUIET_HOURS", "22:00-07:30")
    assert env_daily_window("RELAY_QUIET_HOURS", "21:00-09:00") == (time(22, 0), time(7, 30))
    monkeypatch.setenv("RELAY_QUIET_HOURS", "")
    assert env_daily_window("RELAY_QUIET_HOURS", "21:00-09:00") is None
    for bad in ("21-9", "21:00", "25:00-09:00", "09:00-09:00"):
        monkeypatch.setenv("RELAY_QUIET_HOURS", bad)
        with pytest.raises(ImproperlyConfigured, match="RELAY_QUIET_HOURS"):
            env_daily_window("RELAY_QUIET_HOURS", "21:00-09:00")


# --- unsubscribes and addresses -----------------------------------------------------------------------------------


def test_the_unsubscribe_link_works_without_login_and_the_next_send_is_skipped(
    client, django_capture_on_commit_callbacks
):
    customer, item = _customer(), _item()
    with django_capture_on_commit_callbacks(execute=True):
        message = sending.send_message(customer=customer, item=item, channel="email")
    email = mail.outbox[0]
    link = tracking.unsubscribe_url(message.pk)
    assert link in email.body
    assert email.extra_headers["List-Unsubscribe"] == f"<{link}>"
    assert email.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    path = link.removeprefix("https://relay.example.com")

    page = client.get(path)  # no login; a link scanner's GET changes nothing
    assert page.status_code == 200 and b'data-testid="unsubscribe"' in page.content
    assert not Unsubscribe.objects.exists()
    done = client.post(path)  # the button, or the mail client's one-click POST (no CSRF token, no session)
    assert done.status_code == 200 and b'data-testid="unsubscribed"' in done.content
    assert client.post(path, {"List-Unsubscribe": "One-Click"}).status_code == 200  # twice: still one row
    assert list(Unsubscribe.objects.values_list("customer_id", "channel", "at")) == [(customer.pk, "email", NOW)]

    with django_capture_on_commit_callbacks(execute=True):
        skipped = sending.send_message(customer=customer, item=item, channel="email")
        by_sms = sending.send_message(customer=customer, item=item, channel="sms")
    assert (skipped.status, skipped.skip_reason) == ("skipped", "unsubscribed")
    assert (by_sms.status, by_sms.skip_reason) == ("skipped", "no_address")  # SMS is another channel: no phone
    assert len(mail.outbox) == 1


def test_a_forged_unsubscribe_link_is_a_404_and_unsubscribes_nobody(client):
    message = MessageFactory()
    real = tracking.token(message.pk, tracking.UNSUBSCRIBE)
    other_purpose = tracking.token(message.pk, tracking.OPEN)
    for value in ("1", "1:forged", real[:-1] + ("A" if real[-1] != "A" else "B"), other_purpose, f"{message.pk + 1}"):
        assert client.post(f"/m/u/{value}/").status_code == 404
        assert client.get(f"/m/u/{value}/").status_code == 404
    assert not Unsubscribe.objects.exists()


def test_without_an_address_for_the_channel_the_message_is_skipped(django_capture_on_commit_callbacks):
    item = _item()
    nobody = _customer(email=None)
    CustomerIdentityFactory(customer=nobody, kind=IdentityKind.EMAIL, value="old@example.com", is_valid=False)
    with django_capture_on_commit_callbacks(execute=True):
        for channel in ("email", "sms", "wechat", "wecom"):
            message = sending.send_message(customer=nobody, item=item, channel=channel)
            assert (message.status, message.skip_reason) == ("skipped", "no_address")
    assert mail.outbox == []


# --- exactly once per step run ------------------------------------------------------------------------------------


def test_calling_send_twice_with_the_same_step_run_sends_one_email(django_capture_on_commit_callbacks):
    customer, item = _customer(), _item()
    run = _step_run(customer)
    with django_capture_on_commit_callbacks(execute=True):
        first = sending.send_message(
            customer=customer, item=item, channel="email", step_run=run, enrolment=run.enrolment
        )
    with django_capture_on_commit_callbacks(execute=True):
        second = sending.send_message(
            customer=customer, item=item, channel="email", step_run=run, enrolment=run.enrolment
        )
    assert first.pk == second.pk
    assert Message.objects.filter(step_run=run).count() == 1
    assert len(mail.outbox) == 1


def test_the_email_task_running_twice_sends_once(django_capture_on_commit_callbacks):
    customer, item = _customer(), _item()
    with django_capture_on_commit_callbacks(execute=True):
        message = sending.send_message(customer=customer, item=item, channel="email")
    job = OutboxMessage.objects.get(task="marketing.tasks.deliver_email")
    assert job.status == JobStatus.DONE
    assert outbox.run(job.pk) is False  # the outbox claims each message once
    assert len(mail.outbox) == 1
    assert message.pk == job.args[0]


# --- email ----------------------------------------------------------------------------------------------------------


def test_the_email_carries_the_variant_a_pixel_tracked_links_and_the_customers_language(
    django_capture_on_commit_callbacks,
):
    customer, item = _customer(email="li@example.com"), _item()
    customer.language = "zh-hans"
    customer.save()
    with django_capture_on_commit_callbacks(execute=True):
        message = sending.send_message(customer=customer, item=item, channel="email")
    email = mail.outbox[0]
    assert email.to == ["li@example.com"] and email.subject == "Spring offer"
    assert email.extra_headers["Message-ID"] == f"<marketing-message-{message.pk}@relay>"
    click = tracking.click_url(message.pk, "https://example.com/offer")
    # The item's own link is tracked; a link the item does not allow is left as written (the redirect would refuse).
    assert f"See {click} and https://elsewhere.example.org/x." in email.body
    html = email.alternatives[0][0]
    assert tracking.open_url(message.pk) in html
    assert click.replace("&", "&amp;") in html
    assert '<html lang="zh-hans">' in html  # the footer in the customer's language


def test_a_backend_failure_marks_the_message_failed_and_the_outbox_tries_again(
    monkeypatch, django_capture_on_commit_callbacks
):
    customer, item = _customer(), _item()
    deliver = mail.backends.locmem.EmailBackend.send_messages
    refusals = []

    def refuse_once(self, messages):
        if not refusals:
            refusals.append(messages)
            raise smtplib.SMTPServerDisconnected("gone")
        return deliver(self, messages)

    monkeypatch.setattr(mail.backends.locmem.EmailBackend, "send_messages", refuse_once)
    with django_capture_on_commit_callbacks(execute=True):
        message = sending.send_message(customer=customer, item=item, channel="email")
    message.refresh_from_db()
    assert message.status == "failed"
    job = OutboxMessage.objects.get(task="marketing.tasks.deliver_email")
    assert job.status == JobStatus.QUEUED and job.attempts == 1 and "gone" in job.error
    assert mail.outbox == []

    later = NOW + timedelta(minutes=5)
    with time_machine.travel(later, tick=False):
        assert outbox.run(job.pk) is True
    message.refresh_from_db()
    assert (message.status, message.sent_at) == ("sent", later)
    assert len(mail.outbox) == 1


# --- the other channels ---------------------------------------------------------------------------------------------


def test_sms_is_published_as_message_send_for_integrations(dns_free_endpoints):
    customer, item = _customer(phone="+8613800000001"), _item()
    message = sending.send_message(customer=customer, item=item, channel="sms")
    assert message.status == "sent" and message.sent_at == NOW
    [(event_type, data)] = sent(dns_free_endpoints, "message.send")
    assert event_type == "message.send"
    assert data["message"] == message.pk and data["customer"] == customer.pk
    assert (data["channel"], data["address"], data["title"]) == ("sms", "+8613800000001", "Spring offer")
    click = tracking.click_url(message.pk, "https://example.com/offer")
    assert data["links"] == [{"url": "https://example.com/offer", "tracking_url": click}]
    assert click in data["body"]
    assert data["unsubscribe_url"] == tracking.unsubscribe_url(message.pk)
    assert mail.outbox == []


@pytest.fixture
def dns_free_endpoints():
    wanted, _others = endpoints_for("message.send")
    return wanted


def test_wechat_and_wecom_go_to_their_ids(dns_free_endpoints):
    customer = _customer(wechat="wx-ada", wecom="wc-ada")
    item = _item()
    sending.send_message(customer=customer, item=item, channel="wechat")
    sending.send_message(customer=customer, item=item, channel="wecom")
    addresses = [(d["channel"], d["address"]) for _t, d in sent(dns_free_endpoints, "message.send")]
    assert addresses == [("wechat", "wx-ada"), ("wecom", "wc-ada")]


# --- choosing the variant -------------------------------------------------------------------------------------------


def test_the_variant_given_else_the_winner_else_a_stable_assignment_else_the_first():
    item = _item()
    b = ContentVariantFactory(item=item, key="B")
    customers = [_customer(email=f"c{n}@example.com") for n in range(26)]
    assert sending.send_message(customer=customers[0], item=item, channel="email", variant=b).variant == b
    first = sending.send_message(customer=customers[0], item=item, channel="email")
    assert first.variant.key == "A" and first.experiment is None

    experiment = Experiment.objects.create(item=item, goal=ExperimentGoal.CLICK, started_at=NOW)
    picks = {c.pk: sending.send_message(customer=c, item=item, channel="email").variant.key for c in customers[1:21]}
    assert set(picks.values()) == {"A", "B"}  # spread over both
    again = {c.pk: sending.send_message(customer=c, item=item, channel="email").variant.key for c in customers[1:21]}
    assert again == picks  # the same customer always sees the same variant
    assert Message.objects.filter(experiment=experiment).count() == 40

    experiment.winner, experiment.status = b, ExperimentStatus.FINISHED
    experiment.save()
    assert {sending.send_message(customer=c, item=item, channel="email").variant.key for c in customers[21:]} == {"B"}


def test_refusals_name_their_field():
    customer, item = _customer(), _item()
    other = _item()
    for kwargs, field in (
        ({"channel": "fax"}, "channel"),
        ({"variant": other.variants.get()}, "variant"),
        ({"experiment": Experiment.objects.create(item=other, goal="open", started_at=NOW)}, "experiment"),
    ):
        with pytest.raises(DomainError) as refused:
            sending.send_message(**{"customer": customer, "item": item, "channel": "email", **kwargs})
        assert refused.value.field == field
    empty = ContentItemFactory()
    with pytest.raises(DomainError) as refused:
        sending.send_message(customer=customer, item=empty, channel="email")
    assert (refused.value.field, refused.value.code) == ("content", "no_variant")
    item.is_active = False
    item.save()
    with pytest.raises(DomainError) as refused:
        sending.send_message(customer=customer, item=item, channel="email")
    assert (refused.value.field, refused.value.code) == ("content", "inactive")
    assert not Message.objects.exists()


def test_a_merged_customer_is_messaged_as_the_survivor():
    survivor = _customer(email="keep@example.com")
    duplicate = CustomerFactory(merged_into=survivor, merged_at=timezone.now())
    message = sending.send_message(customer=duplicate, item=_item(), channel="email")
    assert message.customer_id == survivor.pk and message.status == "sent"
