import socket
import subprocess
import sys
from datetime import timedelta

import pytest
from django.utils import timezone

from config import jobs, webhooks
from config.models import JobStatus, WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db


@pytest.fixture
def delivery():
    endpoint = WebhookEndpoint.objects.create(url="http://127.0.0.1:9/x", secret=webhooks.new_secret())
    return WebhookDelivery.objects.create(endpoint=endpoint, message_id="msg_1", event_type="t", payload={})


def test_a_job_is_claimed_by_one_worker_at_a_time(delivery):
    assert jobs.claim(WebhookDelivery, delivery.pk) is not None
    assert jobs.claim(WebhookDelivery, delivery.pk) is None  # running, and its worker is alive


def test_sweep_revives_a_job_whose_worker_died(delivery, settings, django_capture_on_commit_callbacks):
    jobs.claim(WebhookDelivery, delivery.pk)
    later = timezone.now() + timedelta(minutes=settings.RELAY_JOB_STALL_MINUTES + 1)
    # Its worker ran on another host and has not been heard of for an hour.
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        claimed_by="worker-2:4242", heartbeat_at=timezone.now() - timedelta(hours=1)
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs.sweep_stalled(now=later) == 1
    delivery.refresh_from_db()
    assert delivery.attempts == 2  # the revived run claimed it again (and, here, failed to connect)
    assert delivery.attempt_log.count() == 1


def test_sweep_leaves_live_and_waiting_jobs_alone(delivery):
    jobs.claim(WebhookDelivery, delivery.pk)
    assert jobs.sweep_stalled() == 0


def test_sweep_gives_up_after_repeated_stalls(delivery):
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=JobStatus.RUNNING, attempts=jobs.MAX_ATTEMPTS, heartbeat_at=timezone.now() - timedelta(days=1)
    )
    assert jobs.sweep_stalled() == 0
    delivery.refresh_from_db()
    assert delivery.status == JobStatus.FAILED


def test_a_job_whose_worker_was_killed_on_this_host_is_taken_over_at_once(delivery):
    killed = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    jobs.claim(WebhookDelivery, delivery.pk)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(claimed_by=f"{socket.gethostname()}:{killed.stdout.strip()}")
    job = jobs.claim(WebhookDelivery, delivery.pk)  # its heartbeat is fresh, but its process is gone
    assert job is not None and job.attempts == 2
