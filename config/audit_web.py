"""The audit log on pages: a record's history page, and the admin's history of a tracked model (config/audit.py)."""

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import render
from simple_history.admin import SimpleHistoryAdmin

from config import audit
from config.pages import staff_required
from config.pagination import keyset_page_for


@staff_required
def record_history(request, label: str, pk: int):
    """Every version of one record, newest first, each with its author, entry point and changed fields. Managers of
    the record's department and admins (403 for anyone else); a deleted record's history still shows."""
    try:
        model, pk = audit.resolve(f"{label}:{pk}")
    except audit.AuditObjectInvalid:
        raise Http404 from None
    audit.require_read(request.user, model, pk)
    page, paging = keyset_page_for(request, audit.history_rows(model, pk), size=30)
    record = model._base_manager.filter(pk=pk).first()
    if record is None and not page.rows:
        raise Http404
    context = {
        "title": audit.record_title(model, pk, record),
        "kind": model._meta.verbose_name,
        "record_url": audit.detail_url(model, pk),
        "entries": audit.entries(page.rows, older=audit.older_row(model, page.rows), displayed=True),
        "page": page,
        **paging,
    }
    return render(request, "audit/record_history.html", context)


class HistoryAdmin(SimpleHistoryAdmin):
    """A tracked model's admin: its History button shows the audit log, read-only (never reverted: a version is
    written by the services, and history is never edited), to those config.audit lets read it."""

    def has_view_history_or_change_history_permission(self, request, obj=None):
        return obj is not None and audit.can_read(request.user, type(obj), obj.pk)

    def has_change_history_permission(self, request, obj=None):
        return False

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method != "GET":  # simple-history's form would save an old version past the services
            raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)
