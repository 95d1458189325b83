import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.utils import timezone
from standardwebhooks import Webhook

from config import notifications, webhooks
from config.models import JobStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from tests.factories import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def receiver():
    """A real HTTP receiver on loopback that records requests and answers with `status`."""
    received = []

    class Handler(BaseHTTPRequestHandler):
        status = 204

        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((dict(self.headers), body))
            self.send_response(Handler.status)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.received = received
    server.handler = Handler
    server.url = f"http://127.0.0.1:{server.server_port}/hook"
    yield server
    server.shutdown()


def _endpoint(url, **kwargs):
    return WebhookEndpoint.objects.create(url=url, secret=webhooks.new_secret(), **kwargs)


def test_delivery_is_signed_so_a_standard_webhooks_library_verifies_it(receiver, django_capture_on_commit_callbacks):
    endpoint = _endpoint(receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        webhooks.publish(event_type="lead.won", data={"lead": 7}, event_id="lead.won:7")
    headers, body = receiver.received[0]
    payload = Webhook(endpoint.secret).verify(body, headers)
    assert payload["type"] == "lead.won" and payload["data"] == {"lead": 7}
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == JobStatus.DONE
    assert WebhookAttempt.objects.filter(delivery=delivery, response_status=204).count() == 1


def test_same_event_is_delivered_once(receiver, django_capture_on_commit_callbacks):
    _endpoint(receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        webhooks.publish(event_type="lead.won", data={}, event_id="lead.won:7")
        webhooks.publish(event_type="lead.won", data={}, event_id="lead.won:7")
    assert len(receiver.received) == 1


def test_failed_delivery_is_retried_with_backoff_and_every_attempt_logged(receiver, django_capture_on_commit_callbacks):
    receiver.handler.status = 500
    _endpoint(receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        webhooks.publish(event_type="alert.sla", data={}, event_id="a")
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == JobStatus.QUEUED
    assert delivery.next_attempt_at > timezone.now()
    assert webhooks.due_delivery_ids() == []
    assert sum(webhooks.RETRY_DELAYS, timedelta()) >= timedelta(days=1)

    receiver.handler.status = 200
    later = timezone.now() + timedelta(seconds=10)
    assert webhooks.due_delivery_ids(now=later) == [delivery.pk]
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    webhooks.deliver(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == JobStatus.DONE
    assert list(delivery.attempt_log.values_list("response_status", flat=True)) == [500, 200]


def test_unreachable_endpoint_gives_up_after_the_last_retry(django_capture_on_commit_callbacks):
    _endpoint("http://127.0.0.1:9/nothing-listens")
    with django_capture_on_commit_callbacks(execute=True):
        webhooks.publish(event_type="alert.sla", data={}, event_id="b")
    delivery = WebhookDelivery.objects.get()
    for _ in webhooks.RETRY_DELAYS:
        WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
        webhooks.deliver(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == JobStatus.FAILED
    assert delivery.attempt_log.count() == len(webhooks.RETRY_DELAYS) + 1


def test_endpoint_subscribed_to_other_events_gets_nothing(receiver, django_capture_on_commit_callbacks):
    _endpoint(receiver.url, event_types=["lead.won"])
    with django_capture_on_commit_callbacks(execute=True):
        assert webhooks.publish(event_type="alert.sla", data={}) == 0
    assert receiver.received == []


def test_an_alert_notification_is_also_a_webhook_once(receiver, django_capture_on_commit_callbacks):
    _endpoint(receiver.url)
    users = [make_user("sales"), make_user("sales_manager")]
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            notifications.notify(recipients=users, kind="handoff_sla", message="Lead 3 waits", dedupe_key="sla:3")
    assert len(receiver.received) == 1
    assert json.loads(receiver.received[0][1])["type"] == "alert.handoff_sla"


@pytest.mark.parametrize(("role", "status"), [("sales", 403), ("service", 403), ("sales_manager", 201), ("admin", 201)])
def test_only_managers_manage_webhook_endpoints(api_as, role, status):
    response = api_as(role).post("/api/v1/webhooks/", {"url": "https://hooks.example/relay"}, format="json")
    assert response.status_code == status
    if status == 201:
        assert response.json()["secret"].startswith("whsec_")


def test_bad_endpoint_url_is_named(api_as):
    response = api_as("admin").post("/api/v1/webhooks/", {"url": "not a url"}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "url"


def test_no_endpoints_is_remembered_until_one_is_registered(django_assert_num_queries):
    assert webhooks.publish(event_type="lead.stage_changed", data={}, event_id="e1") == 0
    with django_assert_num_queries(0):  # "none" is remembered: writes stop scanning the table
        assert webhooks.publish(event_type="lead.stage_changed", data={}, event_id="e2") == 0
    endpoint = WebhookEndpoint.objects.create(url="https://hooks.example.com/relay", secret=webhooks.new_secret())
    assert webhooks.publish(event_type="lead.stage_changed", data={}, event_id="e3") == 1
    endpoint.delete()
    assert webhooks.publish(event_type="lead.stage_changed", data={}, event_id="e4") == 0
