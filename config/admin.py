from django.contrib import admin

from config.models import Heartbeat, Notification


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["recipient", "kind", "message", "created_at", "read_at"]
    list_filter = ["kind"]
    search_fields = ["message", "recipient__username"]
    raw_id_fields = ["recipient"]
    list_select_related = ["recipient"]
    show_full_result_count = False


@admin.register(Heartbeat)
class HeartbeatAdmin(admin.ModelAdmin):
    list_display = ["name", "beats", "last_beat_at"]
