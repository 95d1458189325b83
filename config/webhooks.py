"""Outbound webhooks (Standard Webhooks): publish events, sign, deliver, retry with backoff.

Sending checks the URL again (config.webhook_targets) and connects to the very address it checked, with the
endpoint's host name in the Host header and TLS SNI/certificate check. Redirects are never followed: a 3xx is a
failed attempt. 410 Gone switches the endpoint off and tells whoever registered it.
"""

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Iterable
from datetime import timedelta

import urllib3
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from config import audit, jobs, outbox, roles, webhook_targets
from config.errors import DomainError
from config.models import JobStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from config.notifications import notify

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
CONNECT_TIMEOUT_SECONDS = 5


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def signing_secrets(endpoint: WebhookEndpoint, now) -> list[str]:
    """The current secret, and the one it replaced while that one's grace period lasts."""
    grace = (
        endpoint.previous_secret and endpoint.previous_secret_expires_at and endpoint.previous_secret_expires_at > now
    )
    return [endpoint.secret, endpoint.previous_secret] if grace else [endpoint.secret]


def require_admin(user) -> None:
    """Endpoints carry secrets and choose where Relay's data goes: admins only, in the API and the admin."""
    if not roles.is_admin(user):
        raise PermissionDenied(_("Only an admin manages webhooks."))


@transaction.atomic
def rotate_secret(*, endpoint: WebhookEndpoint, by, now=None) -> WebhookEndpoint:
    """A new signing secret, returned once on the endpoint. Deliveries carry a signature with each of the new and
    the old secret for RELAY_WEBHOOK_SECRET_GRACE_HOURS, so the receiver can switch without missing one; a second
    rotation within that time drops the oldest. Raises PermissionDenied."""
    require_admin(by)
    now = now or timezone.now()
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = now + timedelta(hours=settings.RELAY_WEBHOOK_SECRET_GRACE_HOURS)
    endpoint.secret = new_secret()
    endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"])
    return endpoint


@transaction.atomic
def redeliver(*, delivery_ids: Iterable[int], by) -> int:
    """Send deliveries again from a fresh retry schedule, under their own message id (receivers dedupe on it).

    Raises PermissionDenied, and DomainError naming the first delivery that cannot go: its endpoint is
    switched off (field "endpoint"), or it is being sent right now (field "status"). Nothing is queued then.
    """
    require_admin(by)
    rows = list(
        WebhookDelivery.objects.select_for_update(of=("self",))
        .select_related("endpoint")
        .filter(pk__in=list(delivery_ids))
        .order_by("pk")
    )
    for delivery in rows:
        if not delivery.endpoint.is_active:
            raise DomainError(
                _("Delivery #%(id)s cannot be sent again: its endpoint %(url)s is switched off.")
                % {"id": delivery.pk, "url": delivery.endpoint.url},
                field="endpoint",
            )
        if delivery.status == JobStatus.RUNNING:
            raise DomainError(_("Delivery #%(id)s is being sent right now.") % {"id": delivery.pk}, field="status")
    return requeue(rows, task="config.tasks.deliver_webhook")


def requeue(rows: list, *, task: str) -> int:
    """Queue locked delivery rows (webhooks or chat bots) again from a fresh retry schedule; returns how many."""
    if rows:
        type(rows[0]).objects.filter(pk__in=[d.pk for d in rows]).update(
            status=JobStatus.QUEUED,
            attempts=0,
            next_attempt_at=None,
            finished_at=None,
            error="",
            claimed_by="",
            heartbeat_at=timezone.now(),  # queued with a sign of life: the stall sweep leaves it to its message
        )
    outbox.enqueue_many(task, [[d.pk] for d in rows])
    return len(rows)


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
    endpoints = [pk for pk, types in _active_endpoints() if not types or event_type in types]
    if not endpoints:  # first: a bulk change announces thousands of events that most installs send nowhere
        return 0
    message_id = "msg_" + (hashlib.sha256(event_id.encode()).hexdigest()[:32] if event_id else secrets.token_hex(16))
    payload = json.loads(
        json.dumps({"type": event_type, "timestamp": timezone.now(), "data": data}, cls=DjangoJSONEncoder)
    )
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


def post(target: webhook_targets.Target, body: bytes, headers: dict, *, answer_limit: int = 0) -> tuple[int, bytes]:
    """POST to the checked address; the response status, redirects included (never followed), and the first
    `answer_limit` bytes of the answer (chat bots answer 200 with an error code in the body: config/bots.py).

    The pool connects to `target.address` (not a fresh lookup of the name), while the Host header, TLS SNI and
    the certificate check use the host name. Raises urllib3's HTTPError or OSError when nothing answers.
    """
    options = {
        "timeout": urllib3.Timeout(connect=CONNECT_TIMEOUT_SECONDS, read=TIMEOUT_SECONDS),
        "retries": False,
        "maxsize": 1,
    }
    if target.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            target.address,
            target.port,
            server_hostname=target.hostname,
            assert_hostname=target.hostname,
            **options,
        )
    else:
        pool = urllib3.HTTPConnectionPool(target.address, target.port, **options)
    with pool:
        response = pool.urlopen(
            "POST",
            target.path,
            body=body,
            headers={**headers, "host": target.host_header},
            redirect=False,
            preload_content=False,
        )
        answer = response.read(answer_limit) if answer_limit else b""
        response.close()
        return response.status, answer


def _switch_off_gone(endpoint: WebhookEndpoint, delivery: WebhookDelivery, now) -> None:
    """410 Gone: the receiver says it is gone for good. The endpoint is switched off (by the first delivery that
    hears it) and whoever registered it is told; the admins when that person is gone too."""
    with transaction.atomic():
        jobs.finish(delivery, error="HTTP 410: endpoint gone, switched off", next_attempt_at=None)
        switched = WebhookEndpoint.objects.filter(pk=endpoint.pk, is_active=True).update(
            is_active=False, updated_at=now
        )
        if not switched:
            return
        audit.record_rows(WebhookEndpoint, [endpoint.pk], reason=audit.Reason.SWITCHED_OFF)  # an update: no signal
        owner = get_user_model().objects.filter(pk=endpoint.created_by_id, is_active=True).first()
        admins = get_user_model().objects.filter(is_superuser=True, is_active=True).order_by("pk")
        notify(
            recipients=[owner] if owner else admins,
            kind="webhooks.endpoint_gone",
            message=_("The webhook endpoint %(url)s answered 410 Gone, so it was switched off.")
            % {"url": endpoint.url},
            url=reverse("admin:config_webhookendpoint_change", args=[endpoint.pk]),
        )


def deliver(delivery_id: int) -> str | None:
    """One attempt; returns the new status, or None when another worker has the delivery."""
    not_yet = WebhookDelivery.objects.filter(pk=delivery_id, next_attempt_at__gt=timezone.now()).exists()
    delivery = None if not_yet else jobs.claim(WebhookDelivery, delivery_id)
    if delivery is None:
        return None
    endpoint = WebhookEndpoint.objects.get(pk=delivery.endpoint_id)
    if not endpoint.is_active:  # switched off after this was queued: nothing is sent
        jobs.finish(delivery, error="endpoint switched off", next_attempt_at=None)
        return JobStatus.FAILED
    body = json.dumps(delivery.payload, separators=(",", ":"), ensure_ascii=False).encode()
    timestamp = int(time.time())
    signatures = [sign(s, delivery.message_id, timestamp, body) for s in signing_secrets(endpoint, timezone.now())]
    headers = {
        "content-type": "application/json",
        "webhook-id": delivery.message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signatures),
        "user-agent": "Relay-Webhooks/1",
    }
    started = time.monotonic()
    status, error = None, ""
    try:
        status, _answer = post(webhook_targets.check(endpoint.url), body, headers)
    except ValidationError as exc:  # the name now points somewhere private (or the URL no longer passes)
        error = f"refused: {exc.messages[0]}"[:500]
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        error = str(exc)[:500]
    if status is not None and 300 <= status < 400:
        error = f"HTTP {status}: redirects are not followed"
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
    if status == 410:
        _switch_off_gone(endpoint, delivery, now)
        return JobStatus.FAILED
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
