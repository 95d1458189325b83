"""ETag / If-Match for single objects (DESIGN.md "Errors, retries, concurrency")."""

import hashlib

from django.utils.translation import gettext as _

from config.errors import ObjectChanged, StaleObject


def etag_for(obj) -> str:
    stamp = getattr(obj, "updated_at", None)
    raw = f"{type(obj).__name__}:{obj.pk}:{stamp.isoformat() if stamp else ''}"
    return '"' + hashlib.sha256(raw.encode()).hexdigest()[:32] + '"'


def require_fresh(request, obj) -> None:
    """Raise StaleObject (412) when If-Match names another version of `obj`."""
    header = request.headers.get("If-Match")
    if not header or header.strip() == "*":
        return
    wanted = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    if etag_for(obj) not in wanted:
        raise StaleObject(_("This record changed since you read it; reload and try again."), field=None)


class ETagMixin:
    """Viewset mixin: reads send an ETag, writes honour If-Match."""

    def handle_exception(self, exc):
        # The If-Match check before the row lock can pass while another write is about to commit; the
        # service then finds the change under the lock. For a conditional request that is still a failed
        # precondition (412), not a conflict.
        if isinstance(exc, ObjectChanged) and self.request.headers.get("If-Match", "").strip() not in ("", "*"):
            exc = StaleObject(exc.message, field=exc.field)
        return super().handle_exception(exc)

    def retrieve(self, request, *args, **kwargs):
        response = super().retrieve(request, *args, **kwargs)
        response["ETag"] = etag_for(self.get_object_cached())
        return response

    def get_object_cached(self):
        if not hasattr(self, "_etag_object"):
            self._etag_object = self.get_object()
        return self._etag_object

    def get_object(self):
        obj = super().get_object()
        self._etag_object = obj
        if self.request.method not in ("GET", "HEAD", "OPTIONS"):
            require_fresh(self.request, obj)
        return obj
