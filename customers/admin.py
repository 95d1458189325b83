from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from config.errors import DomainError
from customers import permissions, services
from customers.models import (
    Campaign,
    Channel,
    ChannelSpend,
    Customer,
    CustomerIdentity,
    ImportJob,
    ImportRowError,
    MergeRecord,
    Order,
)


class IdentityInline(admin.TabularInline):
    model = CustomerIdentity
    extra = 0
    fields = ["kind", "value", "source_system", "is_valid"]


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["name", "company", "city", "lifecycle_stage", "rfm_segment", "merged_into", "created_at"]
    list_filter = ["lifecycle_stage", "rfm_segment", "source_channel"]
    search_fields = ["name", "company", "city", "identities__value"]
    raw_id_fields = ["merged_into"]
    autocomplete_fields = ["source_channel"]
    readonly_fields = [
        "lifecycle_stage",
        "rfm_recency_days",
        "rfm_frequency",
        "rfm_monetary",
        "rfm_r",
        "rfm_f",
        "rfm_m",
        "rfm_segment",
        "merged_into",
        "merged_at",
        "created_at",
        "updated_at",
    ]
    inlines = [IdentityInline]
    show_full_result_count = False
    actions = ["merge_into_oldest"]

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not permissions.can(request.user, permissions.MERGE):
            actions.pop("merge_into_oldest", None)
        return actions

    @admin.action(description=_("Merge the selected customers into the oldest one"))
    def merge_into_oldest(self, request, queryset):
        """One transaction: every selected duplicate merges into the oldest, or none does."""
        if not permissions.can(request.user, permissions.MERGE):
            raise PermissionDenied
        customers = list(queryset.order_by("pk"))
        if len(customers) < 2:
            self.message_user(request, gettext("Select at least two customers."), messages.WARNING)
            return None
        survivor, duplicates = customers[0], customers[1:]
        try:
            with transaction.atomic():
                for duplicate in duplicates:
                    services.merge_customers(survivor=survivor, duplicate=duplicate, by=request.user)
        except DomainError as error:
            self.message_user(request, error.message, messages.ERROR)
            return None
        self.message_user(
            request,
            gettext("%(count)s customers merged into #%(id)s.") % {"count": len(duplicates), "id": survivor.pk},
            messages.SUCCESS,
        )
        return None


@admin.register(CustomerIdentity)
class CustomerIdentityAdmin(admin.ModelAdmin):
    list_display = ["value", "kind", "source_system", "customer", "is_valid"]
    list_filter = ["kind", "is_valid"]
    search_fields = ["value"]
    raw_id_fields = ["customer"]
    list_select_related = ["customer"]
    show_full_result_count = False


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["pk", "customer", "amount", "ordered_at", "channel", "external_id"]
    list_filter = ["channel"]
    search_fields = ["external_id", "customer__name"]
    raw_id_fields = ["customer", "created_by"]
    list_select_related = ["customer", "channel"]
    date_hierarchy = "ordered_at"
    show_full_result_count = False


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["code", "name"]


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ["name", "channel", "starts_on", "ends_on", "budget"]
    list_filter = ["channel"]
    search_fields = ["name"]
    autocomplete_fields = ["channel"]
    list_select_related = ["channel"]


@admin.register(ChannelSpend)
class ChannelSpendAdmin(admin.ModelAdmin):
    list_display = ["channel", "month", "amount"]
    list_filter = ["channel"]
    autocomplete_fields = ["channel"]
    list_select_related = ["channel"]
    date_hierarchy = "month"


@admin.register(MergeRecord)
class MergeRecordAdmin(admin.ModelAdmin):
    list_display = ["pk", "survivor", "duplicate", "merged_at", "merged_by", "undone_at"]
    raw_id_fields = ["survivor", "duplicate", "merged_by", "undone_by"]
    list_select_related = ["survivor", "duplicate", "merged_by"]
    readonly_fields = ["survivor", "duplicate", "moved", "merged_by", "merged_at", "undone_by", "undone_at"]
    actions = ["undo"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not permissions.can(request.user, permissions.UNDO_MERGE):
            actions.pop("undo", None)
        return actions

    @admin.action(description=_("Undo the selected merges"))
    def undo(self, request, queryset):
        if not permissions.can(request.user, permissions.UNDO_MERGE):
            raise PermissionDenied
        try:
            with transaction.atomic():
                for record in queryset.order_by("-merged_at"):
                    services.undo_merge(record=record, by=request.user)
        except DomainError as error:
            self.message_user(request, error.message, messages.ERROR)
            return None
        self.message_user(request, gettext("Merges undone."), messages.SUCCESS)
        return None


class ImportRowErrorInline(admin.TabularInline):
    model = ImportRowError
    extra = 0
    fields = ["row_number", "column", "reason"]
    readonly_fields = fields
    can_delete = False
    max_num = 0


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = ["pk", "kind", "original_name", "is_dry_run", "status", "rows_done", "failed_count", "created_at"]
    list_filter = ["kind", "status", "is_dry_run"]
    readonly_fields = [f.name for f in ImportJob._meta.fields]
    list_select_related = ["created_by"]
    inlines = [ImportRowErrorInline]

    def has_add_permission(self, request):
        return False
