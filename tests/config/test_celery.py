import pytest
from django.conf import settings
from django.core import mail
from django.db import transaction

from config import notifications, outbox
from config.celery import app
from config.models import Heartbeat, Notification, OutboxMessage
from config.tasks import heartbeat
from tests import worker
from tests.factories import make_user


def test_every_scheduled_task_is_registered():
    app.loader.import_default_modules()
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["task"] in app.tasks, entry["task"]


def test_tasks_are_acked_late_and_requeued_if_a_worker_dies():
    assert app.conf.task_acks_late and app.conf.task_reject_on_worker_lost
    assert app.conf.worker_prefetch_multiplier == 1


@pytest.mark.django_db
def test_heartbeat_counts_beats():
    heartbeat()
    heartbeat()
    assert Heartbeat.objects.get(name="worker").beats == 2


@pytest.mark.django_db
def test_notify_is_once_per_key_and_emails_after_commit(django_capture_on_commit_callbacks):
    user = make_user("sales", email="lin@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        made = notifications.notify(recipients=[user], kind="sla", message="Lead 7 waits", dedupe_key="sla:7")
    with django_capture_on_commit_callbacks(execute=True):
        again = notifications.notify(recipients=[user], kind="sla", message="Lead 7 waits", dedupe_key="sla:7")
    assert (made, again) == (1, 0)
    assert Notification.objects.filter(recipient=user).count() == 1
    assert [m.to for m in mail.outbox] == [["lin@example.com"]]


@pytest.mark.django_db
def test_email_is_not_sent_when_the_transaction_rolls_back(django_capture_on_commit_callbacks):
    user = make_user("sales", email="lin@example.com")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        notifications.notify(recipients=[user], kind="sla", message="x")
    assert len(callbacks) == 1 and mail.outbox == []


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_a_queued_task(tmp_path):
    """beat's job end to end: a message through the real broker, run by a real worker process."""
    with worker.publishing_to(tmp_path), worker.running(tmp_path) as process:
        with transaction.atomic():
            outbox.enqueue(heartbeat, "ci-worker")
        worker.wait_for(
            lambda: Heartbeat.objects.filter(name="ci-worker", beats__gte=1).exists(), worker=process, what="a beat"
        )
    assert OutboxMessage.objects.get().status == "done"
