"""`Idempotency-Key` for unsafe API requests (IETF HTTPAPI draft semantics, as Stripe runs it).

* The key belongs to the user (session and token alike), 24 hours.
* A request claims the key with a lease ("host:pid/request", RELAY_IDEMPOTENCY_LEASE_SECONDS). A retry
  while the holder works is 409; once the lease ran out, or the holder's process is gone, a retry takes over.
* The request runs in one transaction with the write of its stored response, and commits only while it
  still holds the key: an effect is committed together with the answer a retry replays, or not at all.
* Refusals (4xx) and failures (5xx) store nothing: nothing happened, so a retry runs again.
* A `Cache-Control: no-store` answer (a new API token) is not stored either: its effect stands, a retry runs again.
* A replay carries the first response's status, body and headers (ETag, Location).
"""

import hashlib
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework.request import Request
from rest_framework.settings import api_settings

from config import outbox
from config.api.problems import problem_json_response
from config.models import IdempotencyRecord

KEEP_FOR = timedelta(hours=24)
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
REPLAYED_HEADERS = ("ETag", "Location", "Content-Location", "Last-Modified")


def _user_pk(request) -> int | None:
    """The user the API will see: the session's, or the one DRF's authenticators find (tokens)."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return user.pk
    drf_request = Request(request, authenticators=[auth() for auth in api_settings.DEFAULT_AUTHENTICATION_CLASSES])
    try:
        user = drf_request.user
    except Exception:  # noqa: BLE001 - bad credentials: the view will refuse them itself
        return None
    return user.pk if user is not None and user.is_authenticated else None


def _scope(request) -> str:
    pk = _user_pk(request)
    if pk is not None:
        return f"user:{pk}"
    auth = request.headers.get("Authorization", "")
    return "auth:" + hashlib.sha256(auth.encode()).hexdigest()[:40]


def _lease() -> timedelta:
    return timedelta(seconds=settings.RELAY_IDEMPOTENCY_LEASE_SECONDS)


def _in_progress():
    return problem_json_response(
        409, detail=_("A request with this key is in progress."), code="idempotency_in_progress"
    )


def _holder_gone(record: IdempotencyRecord, now) -> bool:
    if record.leased_until is None or record.leased_until <= now:
        return True
    process = record.holder.rsplit("/", 1)[0]
    return not outbox.holder_is_alive(process, now, now)  # on this host: is its process still there


def _replay(record: IdempotencyRecord) -> HttpResponse:
    response = HttpResponse(
        bytes(record.response_body or b""), status=record.response_status, content_type=record.response_content_type
    )
    for name, value in (record.response_headers or {}).items():
        response[name] = value
    response["Idempotent-Replayed"] = "true"
    return response


def _claim(scope: str, key: str, digest: str, holder: str, *, again: bool = True):
    """The record this request now holds, or the response to give instead (replay, 409, 422)."""
    now = timezone.now()
    IdempotencyRecord.objects.filter(scope=scope, key=key, created_at__lt=now - KEEP_FOR).delete()
    try:
        with transaction.atomic():
            return IdempotencyRecord.objects.create(
                scope=scope, key=key, request_hash=digest, holder=holder, leased_until=now + _lease()
            )
    except IntegrityError:
        pass
    with transaction.atomic():
        existing = IdempotencyRecord.objects.select_for_update().filter(scope=scope, key=key).first()
        if existing is None:  # its holder was refused and let it go a moment ago: claim it afresh
            return _claim(scope, key, digest, holder, again=False) if again else _in_progress()
        if existing.request_hash != digest:
            return problem_json_response(
                422, detail=_("This Idempotency-Key was used with a different request."), code="idempotency_key_reused"
            )
        if existing.is_complete:
            return _replay(existing)
        if not _holder_gone(existing, now):
            return _in_progress()
        existing.holder, existing.leased_until = holder, now + _lease()
        existing.save(update_fields=["holder", "leased_until"])
        return existing


class IdempotencyKeyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        key = request.headers.get("Idempotency-Key")
        if not key or request.method not in UNSAFE or not request.path.startswith("/api/"):
            return self.get_response(request)
        if len(key) > 255:
            return problem_json_response(
                400,
                detail=_("Idempotency-Key is too long."),
                code="invalid",
                errors=[{"field": "Idempotency-Key", "code": "max_length", "message": _("At most 255 characters.")}],
            )
        digest = hashlib.sha256(request.method.encode() + request.path.encode() + b"\0" + request.body).hexdigest()
        holder = f"{outbox.worker_id()}/{uuid.uuid4().hex}"
        claimed = _claim(_scope(request), key, digest, holder)
        if isinstance(claimed, HttpResponse):
            return claimed
        try:
            with transaction.atomic():
                response = self.get_response(request)
                if 200 <= response.status_code < 300 and "no-store" in response.get("Cache-Control", ""):
                    # A secret shown once (a new API token) is never written down for a replay: the retry runs again.
                    IdempotencyRecord.objects.filter(pk=claimed.pk, holder=holder).delete()
                    return response
                if 200 <= response.status_code < 300 and not getattr(response, "streaming", False):
                    kept = IdempotencyRecord.objects.filter(pk=claimed.pk, holder=holder, is_complete=False).update(
                        is_complete=True,
                        leased_until=None,
                        response_status=response.status_code,
                        response_body=response.content,
                        response_content_type=response.get("Content-Type", ""),
                        response_headers={h: response[h] for h in REPLAYED_HEADERS if response.has_header(h)},
                    )
                    if not kept:  # our lease ran out and a retry took the key: its effect stands, not ours
                        transaction.set_rollback(True)
                        return _in_progress()
                    return response
                transaction.set_rollback(True)  # refused or failed: nothing of it stays, nothing is stored
        except BaseException:
            IdempotencyRecord.objects.filter(pk=claimed.pk, holder=holder, is_complete=False).delete()
            raise
        IdempotencyRecord.objects.filter(pk=claimed.pk, holder=holder, is_complete=False).delete()
        return response
