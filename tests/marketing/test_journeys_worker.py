"""Journeys with a real worker process: the engine's tasks run there, and a wait is a row that outlives the worker
(a new worker finishes the enrolment once the beat's task queues it)."""

import pytest
from django.utils import timezone

from marketing import tasks
from marketing.models import Enrolment, EnrolmentStatus, Message, MessageStatus
from tests import worker
from tests.marketing.journey_support import content, emailable, live_journey, record

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_a_real_worker_runs_the_steps_and_a_wait_outlives_it(tmp_path, monkeypatch, settings):
    monkeypatch.setenv("RELAY_QUIET_HOURS", "")  # the worker sends at any hour the suite runs
    settings.RELAY_QUIET_HOURS = None
    first, second = content("First"), content("Second")
    live_journey(
        [
            {"kind": "send", "content": first.pk, "channel": "email"},
            {"kind": "wait", "hours": 0.0005},  # 1.8 seconds
            {"kind": "send", "content": second.pk, "channel": "email"},
        ]
    )
    customer = emailable()
    with worker.publishing_to(tmp_path):
        with worker.running(tmp_path) as process:
            record(customer, "signed_up", external_id="w1")
            worker.wait_for(lambda: Message.objects.exists(), worker=process, what="the first message")
            enrolment = Enrolment.objects.get()
            worker.wait_for(
                lambda: Enrolment.objects.filter(pk=enrolment.pk, next_run_at__isnull=False).exists(),
                worker=process,
                what="the wait",
            )
        enrolment.refresh_from_db()
        assert enrolment.status == EnrolmentStatus.ACTIVE and Message.objects.count() == 1

        with worker.running(tmp_path) as process:
            worker.wait_for(lambda: enrolment.next_run_at <= timezone.now(), timeout=10, what="the wait to pass")
            assert tasks.run_due_enrolments() == 1  # what the beat runs
            worker.wait_for(
                lambda: Enrolment.objects.filter(pk=enrolment.pk, status=EnrolmentStatus.COMPLETED).exists(),
                worker=process,
                what="the second message",
            )
    assert list(Message.objects.order_by("pk").values_list("item__title", "status")) == [
        ("First", MessageStatus.SENT),
        ("Second", MessageStatus.SENT),
    ]
