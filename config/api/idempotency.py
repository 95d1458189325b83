"""`Idempotency-Key` for unsafe API requests (IETF HTTPAPI draft semantics)."""

import hashlib
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from config.api.problems import problem_json_response
from config.models import IdempotencyRecord

KEEP_FOR = timedelta(hours=24)
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def _scope(request) -> str:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    auth = request.headers.get("Authorization", "")
    return "auth:" + hashlib.sha256(auth.encode()).hexdigest()[:40]


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
        scope = _scope(request)
        digest = hashlib.sha256(request.method.encode() + request.path.encode() + b"\0" + request.body).hexdigest()
        IdempotencyRecord.objects.filter(scope=scope, key=key, created_at__lt=timezone.now() - KEEP_FOR).delete()
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(scope=scope, key=key, request_hash=digest)
        except IntegrityError:
            existing = IdempotencyRecord.objects.filter(scope=scope, key=key).first()
            if existing is None:
                return problem_json_response(
                    409, detail=_("A request with this key is in progress."), code="idempotency_in_progress"
                )
            if existing.request_hash != digest:
                return problem_json_response(
                    422,
                    detail=_("This Idempotency-Key was used with a different request."),
                    code="idempotency_key_reused",
                )
            if not existing.is_complete:
                return problem_json_response(
                    409, detail=_("A request with this key is in progress."), code="idempotency_in_progress"
                )
            replay = HttpResponse(
                bytes(existing.response_body or b""),
                status=existing.response_status,
                content_type=existing.response_content_type,
            )
            replay["Idempotent-Replayed"] = "true"
            return replay

        response = self.get_response(request)
        if response.status_code >= 500 or getattr(response, "streaming", False):
            record.delete()  # a failure on our side may be retried for real
        else:
            IdempotencyRecord.objects.filter(pk=record.pk).update(
                is_complete=True,
                response_status=response.status_code,
                response_body=response.content,
                response_content_type=response.get("Content-Type", ""),
            )
        return response
