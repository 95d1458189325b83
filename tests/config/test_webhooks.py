import ipaddress
import json
import ssl
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import time_machine
import trustme
from django.urls import reverse
from django.utils import timezone
from standardwebhooks import Webhook, WebhookVerificationError

from config import events, notifications, webhook_targets, webhooks
from config.models import JobStatus, Notification, OutboxMessage, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from tests.factories import make_user

pytestmark = pytest.mark.django_db

ROLES = ["marketing", "sales", "service", "marketing_manager", "sales_manager", "service_manager", "admin"]
PUBLIC = "93.184.215.14"  # what the fake resolver answers for a name; nothing connects to it


@pytest.fixture
def local_delivery(settings):
    """Deliveries may go to this machine's test receivers: http, on loopback."""
    settings.RELAY_WEBHOOKS_ALLOW_HTTP = True
    settings.RELAY_WEBHOOKS_ALLOW_LOOPBACK = True
    return settings


@pytest.fixture
def dns(monkeypatch):
    """A resolver: names in `dns.names` answer their addresses, other names a public address; IP literals
    resolve to themselves."""

    class Fake:
        names: dict[str, list[str]] = {"localhost": ["127.0.0.1", "::1"]}

        def __call__(self, hostname, port):
            try:
                return [ipaddress.ip_address(hostname)]
            except ValueError:
                return [ipaddress.ip_address(a) for a in self.names.get(hostname, [PUBLIC])]

    fake = Fake()
    monkeypatch.setattr(webhook_targets, "resolve", fake)
    return fake


def _serve(received, status=204, headers=()):
    """A receiver that records every request, whatever its method (a followed redirect may arrive as GET)."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            received.append((dict(self.headers), body))
            self.send_response(Handler.status)
            for name, value in Handler.headers:
                self.send_header(name, value)
            self.end_headers()

        do_GET = do_PUT = do_POST

        def log_message(self, *args):
            pass

    Handler.status, Handler.headers = status, list(headers)
    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    server.received, server.handler = received, Handler
    server.url = f"http://127.0.0.1:{server.server_port}/hook"
    return server


@pytest.fixture
def receiver(local_delivery):
    """A real HTTP receiver on loopback that records requests and answers with `status`."""
    assert local_delivery.RELAY_WEBHOOKS_ALLOW_LOOPBACK
    server = _serve([])
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


@pytest.mark.usefixtures("local_delivery")
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
    payload = json.loads(receiver.received[0][1])
    assert payload["type"] == "alert.raised"
    assert payload["data"]["kind"] == "handoff_sla" and payload["data"]["message"] == "Lead 3 waits"


@pytest.mark.parametrize("role", ROLES)
def test_only_admins_manage_webhook_endpoints_in_the_api(api_as, dns, role):
    endpoint = WebhookEndpoint.objects.create(url="https://hooks.example.com/a", secret=webhooks.new_secret())
    api = api_as(role)
    answers = [
        api.get("/api/v1/webhooks/").status_code,
        api.get(f"/api/v1/webhooks/{endpoint.pk}/").status_code,
        api.post("/api/v1/webhooks/", {"url": "https://hooks.example.com/b"}, format="json").status_code,
        api.patch(f"/api/v1/webhooks/{endpoint.pk}/", {"is_active": False}, format="json").status_code,
        api.post(f"/api/v1/webhooks/{endpoint.pk}/rotate-secret/").status_code,
        api.get(f"/api/v1/webhooks/{endpoint.pk}/deliveries/").status_code,
        api.delete(f"/api/v1/webhooks/{endpoint.pk}/").status_code,
    ]
    if role == "admin":
        assert answers == [200, 200, 201, 200, 200, 200, 204]
    else:
        assert answers == [403] * 7
        assert WebhookEndpoint.objects.get().secret == endpoint.secret


@pytest.mark.parametrize("role", ROLES)
def test_only_admins_manage_webhooks_in_the_admin(client_as, role):
    endpoint = WebhookEndpoint.objects.create(url="https://hooks.example.com/a", secret=webhooks.new_secret())
    delivery = WebhookDelivery.objects.create(endpoint=endpoint, message_id="msg_1", event_type="lead.won", payload={})
    client = client_as(role)
    pages = [
        reverse("admin:config_webhookendpoint_changelist"),
        reverse("admin:config_webhookendpoint_add"),
        reverse("admin:config_webhookendpoint_change", args=[endpoint.pk]),
        reverse("admin:config_webhookdelivery_changelist"),
        reverse("admin:config_webhookdelivery_change", args=[delivery.pk]),
    ]
    expected = [200] * 5 if role == "admin" else [403] * 5
    assert [client.get(page).status_code for page in pages] == expected
    rotate = client.post(
        reverse("admin:config_webhookendpoint_changelist"),
        {"action": "rotate_secrets", "_selected_action": [endpoint.pk]},
    )
    assert rotate.status_code == (302 if role == "admin" else 403)
    endpoint.refresh_from_db()
    assert (endpoint.previous_secret != "") == (role == "admin")


def test_the_secret_is_in_the_creation_answer_only(api_as, dns):
    api = api_as("admin")
    created = api.post(
        "/api/v1/webhooks/",
        {"url": "https://hooks.example.com/relay", "events": ["lead.won", "order.placed"]},
        format="json",
    )
    assert created.status_code == 201
    body = created.json()
    assert body["secret"].startswith("whsec_") and body["events"] == ["lead.won", "order.placed"]
    assert body["is_active"] is True
    assert WebhookEndpoint.objects.get().secret == body["secret"]
    for answer in (
        api.get("/api/v1/webhooks/"),
        api.get(f"/api/v1/webhooks/{body['id']}/"),
        api.patch(f"/api/v1/webhooks/{body['id']}/", {"events": ["lead.lost"]}, format="json"),
    ):
        assert answer.status_code == 200
        assert "whsec_" not in answer.content.decode()
    assert WebhookEndpoint.objects.get().event_types == ["lead.lost"]


def test_a_secret_given_on_creation_is_ignored(api_as, dns):
    created = api_as("admin").post(
        "/api/v1/webhooks/", {"url": "https://hooks.example.com/relay", "secret": "whsec_mine"}, format="json"
    )
    assert created.status_code == 201 and created.json()["secret"] != "whsec_mine"


def test_the_admin_shows_the_secret_once_and_never_in_the_form(client_as, dns):
    client = client_as("admin")
    added = client.post(
        reverse("admin:config_webhookendpoint_add"),
        {"url": "https://hooks.example.com/relay", "description": "", "event_types": ["lead.won"], "is_active": "on"},
        follow=True,
    )
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.event_types == ["lead.won"] and endpoint.created_by == client.user
    assert endpoint.secret in added.content.decode()  # the one showing
    change = client.get(reverse("admin:config_webhookendpoint_change", args=[endpoint.pk]))
    assert change.status_code == 200 and endpoint.secret not in change.content.decode()
    assert "whsec_" not in client.get(reverse("admin:config_webhookendpoint_changelist")).content.decode()


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/relay",  # not https
        "https://user:pass@hooks.example.com/relay",  # credentials
        "https://127.0.0.1/relay",
        "https://localhost:6379/",
        "https://10.0.0.1/relay",
        "https://192.168.1.20/relay",
        "https://169.254.169.254/latest/meta-data/",  # cloud metadata
        "https://[fd00:ec2::254]/latest/meta-data/",
        "https://[::1]/relay",
        "https://[::ffff:127.0.0.1]/relay",
        "https://0.0.0.0/relay",
        "https://224.0.0.1/relay",  # multicast
        "https://240.0.0.1/relay",  # reserved
        "https://inside.example.com/relay",  # a name that resolves to a private address
        "ftp://hooks.example.com/relay",
    ],
)
def test_registration_refuses_urls_that_are_not_public_https(api_as, client_as, dns, url):
    dns.names["inside.example.com"] = [PUBLIC, "10.1.2.3"]
    api = api_as("admin")
    created = api.post("/api/v1/webhooks/", {"url": url}, format="json")
    assert created.status_code == 400, url
    assert created["content-type"] == "application/problem+json"
    assert {e["field"] for e in created.json()["errors"]} == {"url"}
    endpoint = WebhookEndpoint.objects.create(url="https://hooks.example.com/ok", secret=webhooks.new_secret())
    changed = api.patch(f"/api/v1/webhooks/{endpoint.pk}/", {"url": url}, format="json")
    assert changed.status_code == 400 and changed.json()["errors"][0]["field"] == "url"
    admin_add = client_as("admin").post(
        reverse("admin:config_webhookendpoint_add"), {"url": url, "description": "", "is_active": "on"}
    )
    assert admin_add.status_code == 200 and admin_add.context["adminform"].form.errors.keys() == {"url"}
    assert list(WebhookEndpoint.objects.values_list("url", flat=True)) == ["https://hooks.example.com/ok"]


def test_registration_takes_a_public_https_url_and_http_only_where_allowed(api_as, dns, settings):
    api = api_as("admin")
    assert api.post("/api/v1/webhooks/", {"url": "https://hooks.example.com/relay"}, format="json").status_code == 201
    assert api.post("/api/v1/webhooks/", {"url": "https://93.184.215.14:8443/x"}, format="json").status_code == 201
    assert api.post("/api/v1/webhooks/", {"url": "http://hooks.example.com/relay"}, format="json").status_code == 400
    settings.RELAY_WEBHOOKS_ALLOW_HTTP = True
    assert api.post("/api/v1/webhooks/", {"url": "http://hooks.example.com/relay"}, format="json").status_code == 201
    # Loopback stays refused unless allowed too.
    assert api.post("/api/v1/webhooks/", {"url": "http://127.0.0.1:8000/x"}, format="json").status_code == 400


def test_a_name_that_does_not_resolve_is_refused_at_registration(api_as, monkeypatch):
    def nowhere(hostname, port):
        raise OSError("Name or service not known")

    monkeypatch.setattr(webhook_targets, "resolve", nowhere)
    created = api_as("admin").post("/api/v1/webhooks/", {"url": "https://nowhere.example.com/"}, format="json")
    assert created.status_code == 400
    assert created.json()["errors"][0]["field"] == "url" and created.json()["errors"][0]["code"] == "unresolvable"


def test_unknown_event_types_are_refused_and_named(api_as, dns):
    created = api_as("admin").post(
        "/api/v1/webhooks/",
        {"url": "https://hooks.example.com/relay", "events": ["lead.won", "lead.exploded"]},
        format="json",
    )
    assert created.status_code == 400
    assert created.json()["errors"][0]["field"].startswith("events")
    assert not WebhookEndpoint.objects.exists()


def test_every_domain_event_of_the_spec_is_known():
    assert set(events.EVENT_TYPES) == {
        "lead.handed_off",
        "lead.accepted",
        "lead.rejected",
        "lead.stage_changed",
        "lead.won",
        "lead.lost",
        "customer.merged",
        "order.placed",
        "order.cancelled",
        "complaint.opened",
        "complaint.resolved",
        "nps.received",
        "alert.raised",
        "customer.event",
        "activation.missed",
        "lead.created",
        "message.send",
        "lead.flagged_high_intent",
        "lead.tagged",
        "lifecycle.changed",
        "segment.entered",
        "nps.detractor",
        "tier.changed",
    }


def test_an_endpoint_answering_410_is_switched_off_after_one_attempt_and_its_owner_told(
    receiver, django_capture_on_commit_callbacks
):
    receiver.handler.status = 410
    owner = make_user("admin")
    endpoint = _endpoint(receiver.url, created_by=owner)
    with django_capture_on_commit_callbacks(execute=True):
        webhooks.publish(event_type="lead.won", data={"lead": 1}, event_id="gone-1")
    delivery = WebhookDelivery.objects.get()
    endpoint.refresh_from_db()
    assert endpoint.is_active is False
    assert delivery.status == JobStatus.FAILED and delivery.next_attempt_at is None
    assert list(delivery.attempt_log.values_list("response_status", flat=True)) == [410]
    assert webhooks.due_delivery_ids(now=timezone.now() + timedelta(days=2)) == []
    note = Notification.objects.get(recipient=owner)
    assert note.kind == "webhooks.endpoint_gone" and receiver.url in note.message
    assert note.url == reverse("admin:config_webhookendpoint_change", args=[endpoint.pk])
    # Switched off: later events are not queued for it, and nothing more is sent.
    with django_capture_on_commit_callbacks(execute=True):
        assert webhooks.publish(event_type="lead.won", data={"lead": 2}, event_id="gone-2") == 0
    assert len(receiver.received) == 1


def test_deliveries_queued_before_the_switch_off_are_not_sent(receiver, django_capture_on_commit_callbacks):
    endpoint = _endpoint(receiver.url)
    webhooks.publish(event_type="lead.won", data={}, event_id="q-1")  # queued, not yet sent
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(is_active=False)
    delivery = WebhookDelivery.objects.get()
    assert webhooks.deliver(delivery.pk) == JobStatus.FAILED
    assert receiver.received == [] and delivery.attempt_log.count() == 0


@pytest.mark.usefixtures("local_delivery")
def test_a_redirect_is_a_failed_attempt_and_is_never_followed(django_capture_on_commit_callbacks):
    target = _serve([])
    receiver = _serve([], status=302, headers=[("Location", target.url)])
    _endpoint(receiver.url)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            webhooks.publish(event_type="lead.won", data={}, event_id="redirect-1")
        delivery = WebhookDelivery.objects.get()
        assert delivery.status == JobStatus.QUEUED  # failed; retried on the backoff schedule
        assert delivery.attempt_log.get().response_status == 302
        assert "redirect" in delivery.error
        for _ in webhooks.RETRY_DELAYS:
            WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
            webhooks.deliver(delivery.pk)
        delivery.refresh_from_db()
        assert delivery.status == JobStatus.FAILED
        assert len(receiver.received) == len(webhooks.RETRY_DELAYS) + 1
        assert target.received == []  # the redirect target never hears of it
    finally:
        target.shutdown()
        receiver.shutdown()


def test_send_time_check_refuses_a_name_that_now_points_inside(dns, django_capture_on_commit_callbacks):
    endpoint = _endpoint("https://hooks.example.com/relay")  # was public at registration
    dns.names["hooks.example.com"] = ["10.0.0.7"]  # DNS changed since
    with django_capture_on_commit_callbacks(execute=True):
        webhooks.publish(event_type="lead.won", data={}, event_id="rebind-1")
    attempt = WebhookAttempt.objects.get(delivery__endpoint=endpoint)
    assert attempt.response_status is None and attempt.error.startswith("refused:") and "10.0.0.7" in attempt.error
    assert WebhookDelivery.objects.get().status == JobStatus.QUEUED


@pytest.mark.parametrize("address", ["127.0.0.1", "169.254.169.254", "::1", "fd00:ec2::254", "192.168.0.5"])
def test_send_time_check_refuses_private_targets_even_when_stored(address, dns, django_capture_on_commit_callbacks):
    dns.names["hooks.example.com"] = [address]
    _endpoint("https://hooks.example.com/relay")
    with django_capture_on_commit_callbacks(execute=True):
        webhooks.publish(event_type="lead.won", data={}, event_id=f"stored-{address}")
    assert WebhookAttempt.objects.get().error.startswith("refused:")


def test_the_connection_goes_to_the_checked_address_with_the_name_in_host(
    receiver, dns, django_capture_on_commit_callbacks
):
    dns.names["hooks.example.com"] = ["127.0.0.1"]
    _endpoint(f"http://hooks.example.com:{receiver.server_port}/hook?x=1")
    with django_capture_on_commit_callbacks(execute=True):
        webhooks.publish(event_type="lead.won", data={}, event_id="host-1")
    headers, _body = receiver.received[0]
    assert {k.lower(): v for k, v in headers.items()}["host"] == f"hooks.example.com:{receiver.server_port}"
    assert WebhookDelivery.objects.get().status == JobStatus.DONE


def test_rotation_signs_with_both_secrets_during_the_grace_period_and_then_the_new_one_only(
    api_as, receiver, settings, django_capture_on_commit_callbacks
):
    admin = api_as("admin")
    endpoint = _endpoint(receiver.url)
    old = endpoint.secret
    rotated = admin.post(f"/api/v1/webhooks/{endpoint.pk}/rotate-secret/")
    assert rotated.status_code == 200
    new = rotated.json()["secret"]
    assert new.startswith("whsec_") and new != old
    assert "whsec_" not in admin.get(f"/api/v1/webhooks/{endpoint.pk}/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        webhooks.publish(event_type="lead.won", data={"lead": 1}, event_id="rot-1")
    headers, body = receiver.received[-1]
    assert Webhook(old).verify(body, headers)["data"] == {"lead": 1}
    assert Webhook(new).verify(body, headers)["data"] == {"lead": 1}

    after_grace = timezone.now() + timedelta(hours=settings.RELAY_WEBHOOK_SECRET_GRACE_HOURS, minutes=1)
    with time_machine.travel(after_grace, tick=True):
        with django_capture_on_commit_callbacks(execute=True):
            webhooks.publish(event_type="lead.won", data={"lead": 2}, event_id="rot-2")
        headers, body = receiver.received[-1]
        assert Webhook(new).verify(body, headers)["data"] == {"lead": 2}
        with pytest.raises(WebhookVerificationError):
            Webhook(old).verify(body, headers)


def test_the_admin_redelivers_and_names_a_delivery_it_cannot_send(
    client_as, receiver, django_capture_on_commit_callbacks
):
    receiver.handler.status = 500
    endpoint = _endpoint(receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        webhooks.publish(event_type="lead.won", data={}, event_id="re-1")
    delivery = WebhookDelivery.objects.get()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status=JobStatus.FAILED, next_attempt_at=None)
    receiver.handler.status = 204
    client = client_as("admin")
    changelist = reverse("admin:config_webhookdelivery_changelist")
    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(changelist, {"action": "redeliver", "_selected_action": [delivery.pk]}, follow=True)
    assert "1 delivery queued again." in answer.content.decode()
    delivery.refresh_from_db()
    assert delivery.status == JobStatus.DONE
    assert list(delivery.attempt_log.values_list("response_status", flat=True)) == [500, 204]
    assert len({h["webhook-id"] for h, _b in receiver.received}) == 1  # the same message: receivers dedupe

    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(is_active=False)
    queued = OutboxMessage.objects.count()
    answer = client.post(changelist, {"action": "redeliver", "_selected_action": [delivery.pk]}, follow=True)
    assert f"Delivery #{delivery.pk} cannot be sent again" in answer.content.decode()
    assert OutboxMessage.objects.count() == queued
    delivery.refresh_from_db()
    assert delivery.status == JobStatus.DONE


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


@pytest.fixture
def tls_receiver(local_delivery, dns, monkeypatch):
    """An https receiver on loopback whose certificate (from a test CA Relay is made to trust) names
    `hooks.example.com` only; `hooks.example.com` resolves to 127.0.0.1. Records the TLS SNI names it was asked."""
    assert local_delivery.RELAY_WEBHOOKS_ALLOW_LOOPBACK
    ca = trustme.CA()
    monkeypatch.setattr(ssl.SSLContext, "load_default_certs", lambda context, *_purpose: ca.configure_trust(context))
    dns.names["hooks.example.com"] = ["127.0.0.1"]

    def serve(cert_name: str):
        server = _serve([])
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert(cert_name).configure_cert(context)
        server.sni = []
        context.sni_callback = lambda *args: server.sni.append(args[1])  # (socket, server name, context)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        servers.append(server)
        return server

    servers = []
    yield serve
    for server in servers:
        server.shutdown()


def test_tls_is_checked_against_the_host_name_while_connecting_to_the_checked_address(
    tls_receiver, django_capture_on_commit_callbacks
):
    server = tls_receiver("hooks.example.com")
    _endpoint(f"https://hooks.example.com:{server.server_port}/hook")
    with django_capture_on_commit_callbacks(execute=True):
        webhooks.publish(event_type="lead.won", data={}, event_id="tls-1")
    assert WebhookDelivery.objects.get().status == JobStatus.DONE
    assert server.sni == ["hooks.example.com"]
    assert {k.lower(): v for k, v in server.received[0][0].items()}["host"] == f"hooks.example.com:{server.server_port}"


def test_a_certificate_for_another_name_fails_the_delivery(tls_receiver, django_capture_on_commit_callbacks):
    server = tls_receiver("someone-else.example.com")
    _endpoint(f"https://hooks.example.com:{server.server_port}/hook")
    with django_capture_on_commit_callbacks(execute=True):
        webhooks.publish(event_type="lead.won", data={}, event_id="tls-2")
    attempt = WebhookAttempt.objects.get()
    assert attempt.response_status is None and "hooks.example.com" in attempt.error
    assert server.received == []
