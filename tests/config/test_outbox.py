"""Background work is stored with the write, handed to the broker after commit, and run exactly once."""

import os
import socket
import subprocess
import sys
import threading
import time
import types
from datetime import timedelta

import pytest
from django.core import mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from config import notifications, outbox
from config.models import Heartbeat, OutboxMessage
from customers.models import PendingSegmentRefresh
from leads import services as lead_services
from leads.models import Lead
from tests.factories import ChannelFactory, UserFactory, make_user

pytestmark = pytest.mark.django_db

RUNNER = "config.tasks.run_outbox_message"


@pytest.fixture
def broker_down(monkeypatch):
    """Every publish fails as it does when nothing listens at the broker's address."""
    runner = outbox._tasks()[RUNNER]

    def refuse(*args, **kwargs):
        raise BrokerError("[Errno 111] Connection refused")

    monkeypatch.setattr(runner, "apply_async", refuse)
    return monkeypatch


@pytest.fixture
def published(monkeypatch):
    """What reaches the broker: (message id, queue) per publish; nothing runs."""
    sent = []
    runner = outbox._tasks()[RUNNER]
    monkeypatch.setattr(runner, "apply_async", lambda args, queue, **_options: sent.append((args[0], queue)))
    return sent


def _lead_payload(phone="+8613800000001"):
    return {"contact": {"name": "Li Lei", "phone": phone}, "source_channel": ChannelFactory(code="web").code}


def test_a_write_answers_201_with_the_broker_down_and_its_work_runs_once_later(
    api_as, broker_down, django_capture_on_commit_callbacks
):
    api = api_as("marketing")
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/v1/leads/", _lead_payload(), format="json")
    assert response.status_code == 201
    message = OutboxMessage.objects.get(task="customers.tasks.refresh_pending_segments")
    assert (message.status, message.dispatched_at) == ("queued", None)
    assert PendingSegmentRefresh.objects.count() == 1

    broker_down.undo()  # the broker is back; the beat's sweep hands the message over (inline in tests)
    assert outbox.sweep()["dispatched"] == 1
    message.refresh_from_db()
    assert (message.status, message.attempts) == ("done", 1)
    assert not PendingSegmentRefresh.objects.exists()
    assert Lead.objects.get().customer.lifecycle_stage == "consideration"  # recomputed from the new lead
    assert outbox.sweep()["dispatched"] == 0
    assert outbox.run(message.pk) is False  # a second delivery of the same message does nothing
    assert OutboxMessage.objects.get(pk=message.pk).attempts == 1


def test_after_a_refusal_requests_leave_dispatching_to_the_sweep_for_a_while(
    api_as, monkeypatch, django_capture_on_commit_callbacks
):
    attempts = []
    runner = outbox._tasks()[RUNNER]

    def refuse(*args, **kwargs):
        attempts.append(1)
        raise BrokerError("timed out")

    monkeypatch.setattr(runner, "apply_async", refuse)
    api = api_as("marketing")
    for phone in ("+8613800000001", "+8613800000002", "+8613800000003"):
        with django_capture_on_commit_callbacks(execute=True):
            assert api.post("/api/v1/leads/", _lead_payload(phone), format="json").status_code == 201
    assert len(attempts) == 1
    assert OutboxMessage.objects.filter(dispatched_at__isnull=True).count() == 1  # coalesced: one refresh


def test_a_broker_missing_its_client_library_does_not_fail_the_write(
    api_as, monkeypatch, django_capture_on_commit_callbacks
):
    runner = outbox._tasks()[RUNNER]

    def missing(*args, **kwargs):
        raise ModuleNotFoundError("No module named 'packaging'")  # kombu's Redis transport without its extras

    monkeypatch.setattr(runner, "apply_async", missing)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:  # the dispatch after commit runs here
        response = api_as("marketing").post("/api/v1/leads/", _lead_payload(), format="json")
    assert response.status_code == 201 and callbacks
    assert OutboxMessage.objects.get().dispatched_at is None  # kept for the sweep


def test_a_burst_of_lead_writes_queues_one_segment_refresh(published, django_capture_on_commit_callbacks):
    marketer = make_user("marketing")
    channel = ChannelFactory()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        for i in range(1000):
            with transaction.atomic():
                lead_services.create_lead(
                    by=marketer, contact={"name": f"Lead {i}", "phone": f"+86138{i:08d}"}, source_channel=channel
                )
    assert len(callbacks) == 1000
    assert Lead.objects.count() == 1000
    assert len(published) <= 3, published
    assert OutboxMessage.objects.filter(task="customers.tasks.refresh_pending_segments").count() == 1
    assert PendingSegmentRefresh.objects.count() == 1000


def test_urgent_and_maintenance_work_go_to_their_queues(published, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        outbox.enqueue("customers.tasks.run_import", 1)
        outbox.enqueue("customers.tasks.recompute_segments")
    queues = [queue for _pk, queue in published]
    assert queues == ["interactive", "maintenance"]


def test_a_message_whose_worker_died_runs_again(published):
    with transaction.atomic():
        outbox.enqueue("config.tasks.heartbeat", "revived")
    message = OutboxMessage.objects.get()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    OutboxMessage.objects.filter(pk=message.pk).update(
        status="running", started_at=timezone.now(), started_by=f"{socket.gethostname()}:{dead.stdout.strip()}"
    )
    assert outbox.sweep()["revived"] == 1
    assert outbox.run(message.pk) is True
    assert Heartbeat.objects.get(name="revived").beats == 1


def test_a_message_a_live_worker_holds_is_left_alone():
    with transaction.atomic():
        outbox.enqueue("config.tasks.heartbeat", "held")
    message = OutboxMessage.objects.get()
    OutboxMessage.objects.filter(pk=message.pk).update(
        status="running", started_at=timezone.now(), started_by=f"{socket.gethostname()}:{os.getppid()}"
    )
    assert outbox.sweep()["revived"] == 0
    assert outbox.run(message.pk) is False
    assert not Heartbeat.objects.filter(name="held").exists()


def test_a_failing_message_is_retried_with_backoff_then_given_up(monkeypatch):
    with transaction.atomic():
        outbox.enqueue("config.tasks.heartbeat", "flaky")
    message = OutboxMessage.objects.get()
    heartbeat = outbox._tasks()["config.tasks.heartbeat"]
    monkeypatch.setattr(heartbeat, "run", lambda name: 1 / 0)
    assert outbox.run(message.pk) is False
    message.refresh_from_db()
    assert (message.status, message.attempts, message.dispatched_at) == ("queued", 1, None)
    assert message.run_after > timezone.now() + timedelta(seconds=20)
    assert "ZeroDivisionError" in message.error
    OutboxMessage.objects.filter(pk=message.pk).update(attempts=outbox.MAX_ATTEMPTS - 1)
    assert outbox.run(message.pk) is False
    assert OutboxMessage.objects.get(pk=message.pk).status == "failed"


def test_notification_emails_go_out_as_one_email_per_person(settings, django_capture_on_commit_callbacks):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    seller, other = make_user("sales", email="s@example.com"), make_user("sales", email="o@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        for i in range(5):
            notifications.notify(recipients=[seller, other], kind="test", message=f"Lead {i} waits")
        notifications.notify(recipients=[seller], kind="test", message="Quiet", email=False)
    assert OutboxMessage.objects.filter(task="config.tasks.email_pending_notifications").count() == 1
    assert sorted(m.to[0] for m in mail.outbox) == ["o@example.com", "s@example.com"]
    seller_mail = next(m for m in mail.outbox if m.to == ["s@example.com"])
    assert seller_mail.subject == "5 new Relay notifications"
    assert "Lead 4 waits" in seller_mail.body and "Quiet" not in seller_mail.body
    assert notifications.email_pending() == 0  # each notification is emailed once


# --- health ------------------------------------------------------------------------------------------


def _beat(seconds_ago):
    Heartbeat.objects.create(name="worker", beats=1, last_beat_at=timezone.now() - timedelta(seconds=seconds_ago))


def test_healthz_is_ok_with_a_fresh_heartbeat_and_no_backlog(client):
    _beat(30)
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True
    assert body["queues"]["interactive"] == {"depth": 0, "oldest_wait_seconds": None}


def test_healthz_is_503_when_the_heartbeat_is_stale(client, settings):
    _beat(2 * settings.RELAY_HEARTBEAT_SECONDS + 5)
    response = client.get("/healthz")
    assert (response.status_code, response.json()["problems"]) == (503, ["heartbeat"])


def test_healthz_is_503_when_an_interactive_job_waits_over_a_minute(client, published):
    _beat(10)
    with transaction.atomic():
        outbox.enqueue("customers.tasks.run_import", 1, now=timezone.now() - timedelta(seconds=90))
        outbox.enqueue("customers.tasks.recompute_segments", now=timezone.now() - timedelta(hours=1))
    response = client.get("/healthz")
    body = response.json()
    assert (response.status_code, body["problems"]) == (503, ["interactive_queue"])
    assert body["queues"]["interactive"]["depth"] == 1 and body["queues"]["interactive"]["oldest_wait_seconds"] >= 90
    assert body["queues"]["maintenance"]["depth"] == 1


def test_the_status_page_shows_staff_the_same(client_as):
    _beat(10)
    response = client_as("sales").get(reverse("status"))
    assert response.status_code == 200
    assert b"Background work is keeping up" in response.content


def test_the_status_page_is_for_staff_only(client_as):
    response = client_as(user=UserFactory(is_staff=False)).get(reverse("status"))
    assert response.status_code == 403


def test_concurrent_first_writes_of_a_fresh_process_all_find_their_task(monkeypatch):
    """Celery's autodiscovery returns at once to a second caller while the first still imports the apps' tasks;
    a web worker's first two concurrent writes must both see the whole registry."""
    registry = {}
    importing = threading.Event()

    class Loader:
        busy = False

        def import_default_modules(self):
            if Loader.busy:  # celery.loaders.base.autodiscover_tasks' _RACE_PROTECTION
                return []
            Loader.busy = True
            importing.set()
            time.sleep(0.2)
            registry["customers.tasks.refresh_pending_segments"] = types.SimpleNamespace(queue="maintenance")
            Loader.busy = False
            return []

    monkeypatch.setattr(outbox, "current_app", types.SimpleNamespace(loader=Loader(), tasks=registry))
    monkeypatch.setattr(outbox, "_registry", None)
    found, failed = [], []

    def write():
        try:
            found.append(outbox.queue_of("customers.tasks.refresh_pending_segments"))
        except KeyError as exc:
            failed.append(exc)

    first = threading.Thread(target=write)
    first.start()
    importing.wait(5)
    second = threading.Thread(target=write)
    second.start()
    first.join(5)
    second.join(5)
    assert failed == []
    assert found == ["maintenance", "maintenance"]
