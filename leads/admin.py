from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied

from config.audit_web import HistoryAdmin
from config.errors import DomainError
from leads import permissions, services
from leads.models import Activity, Lead, LeadStageChange, Tag


class StageChangeInline(admin.TabularInline):
    model = LeadStageChange
    extra = 0
    can_delete = False
    fields = ["from_stage", "to_stage", "at", "by", "reason"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Lead)
class LeadAdmin(HistoryAdmin):
    list_display = ["pk", "customer", "stage", "owner", "source_channel", "campaign", "is_high_intent", "created_at"]
    list_filter = ["stage", "is_high_intent", "source_channel", "tags"]
    search_fields = ["customer__name", "interest", "note"]
    raw_id_fields = ["customer", "owner", "created_by", "referred_by", "won_order", "reclaim_blocked_user"]
    autocomplete_fields = ["source_channel", "campaign", "tags"]
    list_select_related = ["customer", "owner", "source_channel", "campaign"]
    date_hierarchy = "created_at"
    inlines = [StageChangeInline]
    show_full_result_count = False
    fields = [
        "customer",
        "stage",
        "owner",
        "source_channel",
        "campaign",
        "tags",
        "interest",
        "note",
        "referred_by",
        "is_high_intent",
        "created_by",
        "first_handed_off_at",
        "handed_off_at",
        "accepted_at",
        "contacted_at",
        "closed_at",
        "last_activity_at",
        "created_at",
        "updated_at",
    ]
    # Everything but the marketing package is read-only: stage, owner and flags change through services.
    readonly_fields = [
        "customer",
        "stage",
        "owner",
        "is_high_intent",
        "created_by",
        "first_handed_off_at",
        "handed_off_at",
        "accepted_at",
        "contacted_at",
        "closed_at",
        "last_activity_at",
        "created_at",
        "updated_at",
    ]

    # The same rules as the pages and the API (leads.permissions.can).
    def has_view_permission(self, request, obj=None):
        return permissions.can(request.user, permissions.VIEW, obj)

    def has_add_permission(self, request):
        return False  # leads are created on the lead page or the API, which resolve the customer by identity

    def has_change_permission(self, request, obj=None):
        if obj is None:
            return permissions.can(request.user, permissions.VIEW)
        return permissions.can(request.user, permissions.EDIT, obj)

    def has_delete_permission(self, request, obj=None):
        return permissions.can(request.user, permissions.DELETE, obj)

    def has_module_permission(self, request):
        return permissions.can(request.user, permissions.VIEW)

    def save_model(self, request, obj, form, change):
        data = {f: form.cleaned_data[f] for f in services.PACKAGE_FIELDS if f in form.cleaned_data}
        try:
            services.update_lead(lead=obj, by=request.user, **data)
        except DomainError as exc:
            messages.error(request, exc.message)
            raise PermissionDenied(exc.message) from exc

    def save_related(self, request, form, formsets, change):
        # Tags go through the service too; the stage history inline is read-only (nothing to save).
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)
        services.update_lead(lead=form.instance, by=request.user, tags=[t.name for t in form.cleaned_data["tags"]])


@admin.register(LeadStageChange)
class LeadStageChangeAdmin(admin.ModelAdmin):
    """History is append-only: visible here, never edited."""

    list_display = ["lead", "from_stage", "to_stage", "at", "by"]
    list_filter = ["to_stage", "from_stage"]
    raw_id_fields = ["lead", "by"]
    list_select_related = ["lead", "by"]

    date_hierarchy = "at"
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["name", "created_at"]
    search_fields = ["name"]

    def has_add_permission(self, request):
        return permissions.can(request.user, permissions.CREATE_TAG)

    def has_change_permission(self, request, obj=None):
        return permissions.can(request.user, permissions.CREATE_TAG)

    def has_delete_permission(self, request, obj=None):
        return permissions.can(request.user, permissions.DELETE)


@admin.register(Activity)
class ActivityAdmin(admin.ModelAdmin):
    list_display = ["lead", "kind", "by", "at"]
    list_filter = ["kind"]
    search_fields = ["body"]
    raw_id_fields = ["lead", "by"]
    list_select_related = ["lead", "by"]

    # Activities are a log: added on the lead page or the API (which keep last_activity_at), never edited here.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return permissions.can(request.user, permissions.DELETE, obj)
