from django.contrib import admin

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
class LeadAdmin(admin.ModelAdmin):
    list_display = ["pk", "customer", "stage", "owner", "source_channel", "campaign", "is_high_intent", "created_at"]
    list_filter = ["stage", "is_high_intent", "source_channel", "tags"]
    search_fields = ["customer__name", "interest", "note"]
    raw_id_fields = ["customer", "owner", "created_by", "referred_by", "won_order", "reclaim_blocked_user"]
    autocomplete_fields = ["source_channel", "campaign", "tags"]
    list_select_related = ["customer", "owner", "source_channel", "campaign"]
    readonly_fields = [
        "stage",
        "first_handed_off_at",
        "handed_off_at",
        "accepted_at",
        "contacted_at",
        "closed_at",
        "last_activity_at",
        "created_at",
        "updated_at",
    ]
    date_hierarchy = "created_at"
    inlines = [StageChangeInline]
    show_full_result_count = False


@admin.register(LeadStageChange)
class LeadStageChangeAdmin(admin.ModelAdmin):
    """History is append-only: visible here, never edited."""

    list_display = ["lead", "from_stage", "to_stage", "at", "by"]
    list_filter = ["to_stage", "from_stage"]
    raw_id_fields = ["lead", "by"]
    list_select_related = ["by"]
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


@admin.register(Activity)
class ActivityAdmin(admin.ModelAdmin):
    list_display = ["lead", "kind", "by", "at"]
    list_filter = ["kind"]
    search_fields = ["body"]
    raw_id_fields = ["lead", "by"]
    list_select_related = ["by"]
