"""Admin for the service loop. Status and history are read-only; actions go through feedback.services."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from config.audit_web import HistoryAdmin
from config.errors import DomainError
from feedback import permissions, services
from feedback.models import (
    Complaint,
    ComplaintStatus,
    ComplaintStatusChange,
    Insight,
    NpsInvitation,
    NpsResponse,
)


class FeedbackAdminMixin:
    """Everyone in a department views; writes follow feedback.permissions, the same as pages and API."""

    write_action = ""

    def has_view_permission(self, request, obj=None):
        return permissions.can(request.user, permissions.READ)

    def has_module_permission(self, request):
        return permissions.can(request.user, permissions.READ)

    def has_add_permission(self, request, obj=None):
        return bool(self.write_action) and permissions.can(request.user, self.write_action)

    def has_change_permission(self, request, obj=None):
        return bool(self.write_action) and permissions.can(request.user, self.write_action)

    def has_delete_permission(self, request, obj=None):
        return False


class StatusChangeInline(admin.TabularInline):
    model = ComplaintStatusChange
    extra = 0
    can_delete = False
    fields = ["kind", "from_status", "to_status", "at", "by", "note"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return permissions.can(request.user, permissions.READ)


def _run_transition(modeladmin, request, queryset, status: str):
    """One transaction: every selected complaint moves, or none does and the blocking one is named."""
    try:
        with transaction.atomic():
            for complaint in queryset.order_by("pk"):
                try:
                    services.transition_complaint(complaint=complaint, by=request.user, status=status)
                except (DomainError, PermissionDenied) as exc:
                    message = getattr(exc, "message", None) or str(exc)
                    raise DomainError(
                        gettext("%(complaint)s: %(message)s") % {"complaint": complaint, "message": message}
                    ) from exc
    except DomainError as exc:
        modeladmin.message_user(request, exc.message, messages.ERROR)
        return
    modeladmin.message_user(request, gettext("Done."), messages.SUCCESS)


@admin.action(description=_("Start work on the selected complaints"))
def start_work(modeladmin, request, queryset):
    _run_transition(modeladmin, request, queryset, ComplaintStatus.IN_PROGRESS)


@admin.action(description=_("Close the selected resolved complaints"))
def close_complaints(modeladmin, request, queryset):
    _run_transition(modeladmin, request, queryset, ComplaintStatus.CLOSED)


@admin.action(description=_("Reopen the selected complaints"))
def reopen_complaints(modeladmin, request, queryset):
    _run_transition(modeladmin, request, queryset, ComplaintStatus.OPEN)


@admin.register(Complaint)
class ComplaintAdmin(FeedbackAdminMixin, HistoryAdmin):
    write_action = "complaint.create"
    list_display = ["pk", "customer", "category", "severity", "status", "owner", "opened_at", "resolution_due_at"]
    list_filter = ["status", "severity", "category", "channel"]
    search_fields = ["description", "customer__name"]
    raw_id_fields = ["customer", "order", "lead", "owner", "created_by"]
    list_select_related = ["customer", "owner"]
    readonly_fields = [
        "status",
        "owner",
        "resolution",
        "opened_at",
        "first_response_at",
        "resolved_at",
        "closed_at",
        "first_response_due_at",
        "resolution_due_at",
        "resolution_clock_from",
        "waiting_since",
        "paused_seconds",
        "first_response_alerted_at",
        "resolution_alerted_at",
        "created_by",
        "updated_at",
    ]
    date_hierarchy = "opened_at"
    inlines = [StatusChangeInline]
    actions = [start_work, close_complaints, reopen_complaints]
    show_full_result_count = False

    def has_change_permission(self, request, obj=None):
        action = "complaint.change" if obj is not None else "complaint.create"
        return permissions.can(request.user, action, obj)

    def save_model(self, request, obj, form, change):
        """New complaints and edits go through the services (SLA clocks, history, checks)."""
        data = {name: form.cleaned_data.get(name) for name in ("category", "severity", "channel", "description")}
        data.update(order=form.cleaned_data.get("order"), lead=form.cleaned_data.get("lead"))
        if change:
            saved = services.update_complaint(complaint=obj, by=request.user, **data)
        else:
            saved = services.create_complaint(by=request.user, customer=form.cleaned_data["customer"], **data)
        obj.pk = saved.pk
        obj.refresh_from_db()


@admin.register(ComplaintStatusChange)
class ComplaintStatusChangeAdmin(FeedbackAdminMixin, admin.ModelAdmin):
    list_display = ["complaint", "kind", "from_status", "to_status", "at", "by"]
    list_filter = ["kind", "to_status"]
    list_select_related = ["complaint", "by"]
    raw_id_fields = ["complaint", "by"]


@admin.register(NpsResponse)
class NpsResponseAdmin(FeedbackAdminMixin, admin.ModelAdmin):
    write_action = "nps.create"
    list_display = ["customer", "score", "source", "answered_at"]
    list_filter = ["source", "score"]
    search_fields = ["comment", "customer__name"]
    raw_id_fields = ["customer", "invitation", "entered_by"]
    list_select_related = ["customer"]
    readonly_fields = ["source", "invitation", "entered_by", "answered_at"]
    date_hierarchy = "answered_at"
    show_full_result_count = False

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        saved = services.record_nps_response(
            by=request.user,
            customer=form.cleaned_data["customer"],
            score=form.cleaned_data["score"],
            comment=form.cleaned_data.get("comment", ""),
        )
        obj.pk = saved.pk
        obj.refresh_from_db()


@admin.register(NpsInvitation)
class NpsInvitationAdmin(FeedbackAdminMixin, admin.ModelAdmin):
    list_display = ["customer", "email", "language", "sent_at", "expires_at", "answered_at"]
    search_fields = ["email", "customer__name"]
    raw_id_fields = ["customer", "created_by"]
    list_select_related = ["customer"]
    exclude = ["token"]


@admin.register(Insight)
class InsightAdmin(FeedbackAdminMixin, admin.ModelAdmin):
    list_display = ["tag", "customer", "complaint", "nps_response", "created_at", "acknowledged_at"]
    list_filter = ["tag"]
    list_select_related = ["customer", "complaint", "nps_response"]
    raw_id_fields = ["customer", "complaint", "nps_response", "lead", "created_by", "acknowledged_by"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]
