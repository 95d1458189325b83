from django.contrib import admin

from customers.models import Campaign, Channel, ChannelSpend, Customer, CustomerIdentity, Order


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
