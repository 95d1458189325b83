from django.contrib import admin

from okr.models import CheckIn, KeyResult, MetricSnapshot, Objective


class KeyResultInline(admin.StackedInline):
    model = KeyResult
    extra = 0


@admin.register(Objective)
class ObjectiveAdmin(admin.ModelAdmin):
    list_display = ["title", "department", "quarter", "owner"]
    list_filter = ["department", "quarter"]
    search_fields = ["title"]
    raw_id_fields = ["owner"]
    list_select_related = ["owner"]
    inlines = [KeyResultInline]


@admin.register(KeyResult)
class KeyResultAdmin(admin.ModelAdmin):
    list_display = ["title", "objective", "metric", "baseline", "target", "direction"]
    list_filter = ["direction", "metric", "objective__department"]
    search_fields = ["title"]
    raw_id_fields = ["objective"]
    list_select_related = ["objective"]


@admin.register(CheckIn)
class CheckInAdmin(admin.ModelAdmin):
    list_display = ["key_result", "by", "at", "confidence"]
    raw_id_fields = ["key_result", "by"]
    list_select_related = ["key_result", "by"]


@admin.register(MetricSnapshot)
class MetricSnapshotAdmin(admin.ModelAdmin):
    list_display = ["key_result", "date", "value"]
    raw_id_fields = ["key_result"]
    list_select_related = ["key_result"]
    date_hierarchy = "date"
