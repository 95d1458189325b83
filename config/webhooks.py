"""Outbound webhooks (Standard Webhooks): publish events, sign, deliver, retry with backoff."""

import base64
import hashlib
import hmac
import json
import secrets
import time
import urllib.error
import urllib.request
from datetime import timedelta

from django.core.cache import cache
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from config import jobs, outbox
from config.models import JobStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint

# Delay before each retry: 5 s … 10 h, about 27 hours in all (the spec's suggested schedule).
RETRY_DELAYS = [
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
]
TIMEOUT_SECONDS = 10


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


NO_ENDPOINTS_CACHE_KEY = "relay:webhooks:no-active-endpoints"
NO_ENDPOINTS_CACHE_SECONDS = 5


def forget_endpoints(**_signal) -> None:
    """Saving or deleting an endpoint ends "there are none" at once here; other processes within seconds."""
    cache.delete(NO_ENDPOINTS_CACHE_KEY)


def _active_endpoints() -> list[tuple[int, list]]:
    """(id, event types) of the active endpoints. Every write publishes, and most installations have no
    endpoint, so "none" is remembered for a few seconds instead of scanned on each event. A found list is
    never cached: a delivery row must name an endpoint that exists."""
    if cache.get(NO_ENDPOINTS_CACHE_KEY):
        return []
    endpoints = list(WebhookEndpoint.objects.filter(is_active=True).values_list("pk", "event_types"))
    if not endpoints:
        cache.set(NO_ENDPOINTS_CACHE_KEY, True, NO_ENDPOINTS_CACHE_SECONDS)
    return endpoints


def publish(*, event_type: str, data: dict, event_id: str = "") -> int:
    """Queue `event_type` for every active endpoint that wants it; once per `event_id`."""
    message_id = "msg_" + (hashlib.sha256(event_id.encode()).hexdigest()[:32] if event_id else secrets.token_hex(16))
    payload = json.loads(
        json.dumps({"type": event_type, "timestamp": timezone.now(), "data": data}, cls=DjangoJSONEncoder)
    )
    endpoints = [pk for pk, types in _active_endpoints() if not types or event_type in types]
    if not endpoints:
        return 0
    WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(endpoint_id=pk, message_id=message_id, event_type=event_type, payload=payload)
            for pk in endpoints
        ],
        ignore_conflicts=True,
    )
    ids = list(
        WebhookDelivery.objects.filter(message_id=message_id, status=JobStatus.QUEUED, attempts=0).values_list(
            "pk", flat=True
        )
    )
    outbox.enqueue_many("config.tasks.deliver_webhook", [[pk] for pk in ids])
    return len(ids)


def _post(url: str, body: bytes, headers: dict) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310 (admin-set URL)
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def deliver(delivery_id: int) -> str | None:
    """One attempt; returns the new status, or None when another worker has the delivery."""
    not_yet = WebhookDelivery.objects.filter(pk=delivery_id, next_attempt_at__gt=timezone.now()).exists()
    delivery = None if not_yet else jobs.claim(WebhookDelivery, delivery_id)
    if delivery is None:
        return None
    endpoint = WebhookEndpoint.objects.get(pk=delivery.endpoint_id)
    body = json.dumps(delivery.payload, separators=(",", ":"), ensure_ascii=False).encode()
    timestamp = int(time.time())
    headers = {
        "content-type": "application/json",
        "webhook-id": delivery.message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(endpoint.secret, delivery.message_id, timestamp, body),
        "user-agent": "Relay-Webhooks/1",
    }
    started = time.monotonic()
    status, error = None, ""
    try:
        status = _post(endpoint.url, body, headers)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        error = str(exc)[:500]
    now = timezone.now()
    WebhookAttempt.objects.create(
        delivery=delivery,
        at=now,
        response_status=status,
        error=error,
        duration_ms=int((time.monotonic() - started) * 1000),
    )
    if status is not None and 200 <= status < 300:
        jobs.finish(delivery, next_attempt_at=None)
        return JobStatus.DONE
    if delivery.attempts > len(RETRY_DELAYS):
        jobs.finish(delivery, error=error or f"HTTP {status}", next_attempt_at=None)
        return JobStatus.FAILED
    # Back to queued with a due time; `retry_due_deliveries` sends it again then.
    jobs.beat(
        delivery,
        status=JobStatus.QUEUED,
        next_attempt_at=now + RETRY_DELAYS[delivery.attempts - 1],
        error=error or f"HTTP {status}",
    )
    return JobStatus.QUEUED


def due_delivery_ids(now=None) -> list[int]:
    now = now or timezone.now()
    return list(
        WebhookDelivery.objects.filter(status=JobStatus.QUEUED, next_attempt_at__lte=now).values_list("pk", flat=True)
    )
