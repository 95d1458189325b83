"""ETag / If-Match / If-None-Match for single objects (DESIGN.md "Errors, retries, concurrency").

A conditional write (If-Match) and every DELETE run in one transaction that locks the object's row before
anything is decided: the version the client names is compared with the locked row, so of ten writes racing
with one ETag exactly one passes and nine get 412, and of two racing deletes one gets 204 and the other 404.
"""

import hashlib

from django.core.exceptions import ObjectDoesNotExist
from django.db import transaction
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import status
from rest_framework.response import Response

from config.errors import ObjectChanged, StaleObject

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def etag_of(model, pk, stamp) -> str:
    """A strong ETag: the object's type, id and version (`updated_at`, stamped on every save)."""
    raw = f"{model.__name__}:{pk}:{stamp.isoformat() if stamp else ''}"
    return '"' + hashlib.sha256(raw.encode()).hexdigest()[:32] + '"'


def etag_for(obj) -> str:
    return etag_of(type(obj), obj.pk, getattr(obj, "updated_at", None))


def _tags(header: str) -> set[str]:
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}


def if_match(request) -> str:
    """The If-Match header when it names versions (absent and `*` ask for no check)."""
    header = request.headers.get("If-Match", "").strip()
    return "" if header in ("", "*") else header


def require_fresh(request, obj) -> None:
    """Raise StaleObject (412) when If-Match names another version of `obj`."""
    header = if_match(request)
    if header and etag_for(obj) not in _tags(header):
        raise StaleObject(_("This record changed since you read it; reload and try again."), field=None)


def lock(obj):
    """`obj`'s row, read again under a row lock in the current transaction; Http404 when it is gone."""
    try:
        return type(obj)._default_manager.select_for_update().get(pk=obj.pk)
    except ObjectDoesNotExist:
        raise Http404 from None


class ETagMixin:
    """Viewset mixin: reads send an ETag and answer 304 to a matching If-None-Match; conditional writes and
    deletes decide under the row lock."""

    def _locks_rows(self, request) -> bool:
        return request.method == "DELETE" or (request.method in UNSAFE_METHODS and bool(if_match(request)))

    def dispatch(self, request, *args, **kwargs):
        if not self._locks_rows(request):
            return super().dispatch(request, *args, **kwargs)
        with transaction.atomic():
            response = super().dispatch(request, *args, **kwargs)
            if response.status_code >= 400:  # refused: nothing of it may stay
                transaction.set_rollback(True)
            return response

    def handle_exception(self, exc):
        if isinstance(exc, ObjectDoesNotExist):  # the row went away while this request waited for it
            exc = Http404()
        # A service that finds the row changed under its own lock: for a conditional request that is a failed
        # precondition (412), not a conflict.
        if isinstance(exc, ObjectChanged) and if_match(self.request):
            exc = StaleObject(exc.message, field=exc.field)
        return super().handle_exception(exc)

    def read_one(self) -> tuple[dict, str]:
        """The object a read answers, as the output serializer's data, and its ETag."""
        obj = self.get_object()
        return self.get_serializer(obj).data, etag_for(obj)

    def retrieve(self, request, *args, **kwargs):
        data, etag = self.read_one()
        if etag in _tags(request.headers.get("If-None-Match", "")):
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag})
        return Response(data, headers={"ETag": etag})

    def get_object(self):
        obj = super().get_object()
        if self._locks_rows(self.request):
            obj = lock(obj)
        if self.request.method in UNSAFE_METHODS:
            require_fresh(self.request, obj)
        return obj
