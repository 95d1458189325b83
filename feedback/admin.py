from django.contrib import admin

from feedback.models import Complaint, ComplaintStatusChange, FollowUpTask, NpsInvitation, NpsResponse


class StatusChangeInline(admin.TabularInline):
    model = ComplaintStatusChange
    extra = 0
    can_delete = False
    fields = ["from_status", "to_status", "at", "by", "note"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Complaint)
class ComplaintAdmin(admin.ModelAdmin):
    list_display = ["pk", "customer", "category", "severity", "status", "owner", "opened_at"]
    list_filter = ["status", "severity", "category", "channel"]
    search_fields = ["description", "customer__name"]
    raw_id_fields = ["customer", "order", "lead", "owner", "created_by"]
    list_select_related = ["customer", "owner"]
    readonly_fields = [
        "status",
        "first_response_at",
        "resolved_at",
        "closed_at",
        "first_response_due_at",
        "resolution_due_at",
        "updated_at",
    ]
    date_hierarchy = "opened_at"
    inlines = [StatusChangeInline]
    show_full_result_count = False


@admin.register(NpsResponse)
class NpsResponseAdmin(admin.ModelAdmin):
    list_display = ["customer", "score", "source", "answered_at"]
    list_filter = ["source", "score"]
    search_fields = ["comment", "customer__name"]
    raw_id_fields = ["customer", "invitation", "entered_by"]
    list_select_related = ["customer"]
    date_hierarchy = "answered_at"
    show_full_result_count = False


@admin.register(NpsInvitation)
class NpsInvitationAdmin(admin.ModelAdmin):
    list_display = ["customer", "email", "sent_at", "expires_at", "answered_at"]
    search_fields = ["email", "customer__name"]
    raw_id_fields = ["customer", "created_by"]
    list_select_related = ["customer"]
    exclude = ["token"]


@admin.register(FollowUpTask)
class FollowUpTaskAdmin(admin.ModelAdmin):
    list_display = ["kind", "customer", "owner", "due_at", "done_at"]
    list_filter = ["kind"]
    raw_id_fields = ["customer", "nps_response", "lead", "owner"]
    list_select_related = ["customer", "owner"]
