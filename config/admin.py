from urllib.parse import urlsplit

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from knox.models import AuthToken

from config import bots, events, notifications, roles, todo, tokens, webhooks
from config.audit_web import HistoryAdmin
from config.errors import DomainError
from config.models import (
    BotAttempt,
    BotDelivery,
    ChatBot,
    ChatBotKind,
    Heartbeat,
    Notification,
    Task,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)


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


class AdminsOnly:
    """Webhooks are an admin's alone, here as in the API (config.webhooks.require_admin)."""

    def has_module_permission(self, request):
        return roles.is_admin(request.user)

    def has_view_permission(self, request, obj=None):
        return roles.is_admin(request.user)

    def has_add_permission(self, request):
        return roles.is_admin(request.user)

    def has_change_permission(self, request, obj=None):
        return roles.is_admin(request.user)

    def has_delete_permission(self, request, obj=None):
        return roles.is_admin(request.user)


class WebhookEndpointForm(forms.ModelForm):
    """No secret field: the secret is shown once, when made (saving a new endpoint, rotating). The URL is checked
    by the model field's validator (config.webhook_targets), as in the API."""

    url = forms.URLField(label=_("URL"), max_length=500, assume_scheme="https")
    event_types = forms.MultipleChoiceField(
        label=_("events"),
        choices=[(name, name) for name in events.EVENT_TYPES],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: every event."),
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "description", "event_types", "is_active"]


def _show_secret_once(modeladmin, request, endpoint) -> None:
    modeladmin.message_user(
        request,
        gettext("The signing secret of %(url)s is %(secret)s. Copy it now: it is not shown again.")
        % {"url": endpoint.url, "secret": endpoint.secret},
        messages.WARNING,
    )


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(AdminsOnly, HistoryAdmin):
    form = WebhookEndpointForm
    list_display = ["url", "description", "is_active", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["url", "description"]
    readonly_fields = ["created_by", "created_at", "previous_secret_expires_at"]
    actions = ["rotate_secrets"]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.secret = webhooks.new_secret()
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
        if not change:
            _show_secret_once(self, request, obj)

    @admin.action(description=_("Rotate the signing secrets (the old ones stay valid for the grace period)"))
    def rotate_secrets(self, request, queryset):
        with transaction.atomic():
            rotated = [webhooks.rotate_secret(endpoint=e, by=request.user) for e in queryset.order_by("pk")]
        for endpoint in rotated:
            _show_secret_once(self, request, endpoint)


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    readonly_fields = ["at", "response_status", "error", "duration_ms"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(AdminsOnly, admin.ModelAdmin):
    list_display = ["event_type", "endpoint", "status", "attempts", "next_attempt_at", "created_at"]
    list_filter = ["status", "event_type"]
    search_fields = ["message_id"]
    raw_id_fields = ["endpoint"]
    list_select_related = ["endpoint"]
    readonly_fields = [
        "endpoint",
        "message_id",
        "event_type",
        "payload",
        "status",
        "attempts",
        "heartbeat_at",
        "next_attempt_at",
        "finished_at",
        "error",
    ]
    inlines = [WebhookAttemptInline]
    actions = ["redeliver"]

    def has_add_permission(self, request):
        return False  # deliveries come from published events only

    @admin.action(description=_("Deliver the selected events again"))
    def redeliver(self, request, queryset):
        """One transaction: every selected delivery is queued again, or none is (the message names the blocker)."""
        try:
            count = webhooks.redeliver(delivery_ids=queryset.values_list("pk", flat=True), by=request.user)
        except DomainError as error:
            self.message_user(request, error.message, messages.ERROR)
            return
        message = ngettext("%(count)d delivery queued again.", "%(count)d deliveries queued again.", count)
        self.message_user(request, message % {"count": count}, messages.SUCCESS)


class ChatBotForm(forms.ModelForm):
    """The signing secret is write-only: typed here, never shown back (left empty, the current one stays). The URL
    is checked by the model field's validator (config.webhook_targets: public addresses only)."""

    webhook_url = forms.URLField(label=_("webhook URL"), max_length=500, assume_scheme="https")
    new_secret = forms.CharField(
        label=_("signing secret"),
        required=False,
        max_length=200,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_(
            "Feishu: the secret of the bot's signature verification. Left empty, the current secret stays. "
            "WeCom group bots have none: their key is in the URL."
        ),
    )
    remove_secret = forms.BooleanField(label=_("remove the signing secret"), required=False)
    alert_kinds = forms.MultipleChoiceField(
        label=_("alert kinds"),
        choices=notifications.kind_choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: every alert."),
    )

    class Meta:
        model = ChatBot
        fields = ["kind", "name", "webhook_url", "alert_kinds", "is_active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        known = {kind for kind, _label in self.fields["alert_kinds"].choices}
        stored = [kind for kind in (self.instance.alert_kinds or []) if kind not in known]
        self.fields["alert_kinds"].choices = [*notifications.kind_choices(), *((k, k) for k in stored)]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("kind") == ChatBotKind.WECOM and cleaned.get("new_secret"):
            self.add_error("new_secret", _("WeCom group bots have no signing secret: their key is in the URL."))
        return cleaned

    def save(self, commit=True):
        bot = super().save(commit=False)
        if self.cleaned_data.get("remove_secret") or bot.kind == ChatBotKind.WECOM:
            bot.secret = ""  # nosec B105 — no password: the secret removed (tests/config/test_bots.py)
        elif self.cleaned_data.get("new_secret"):
            bot.secret = self.cleaned_data["new_secret"]
        if commit:
            bot.save()
        return bot


@admin.register(ChatBot)
class ChatBotAdmin(AdminsOnly, admin.ModelAdmin):
    form = ChatBotForm
    list_display = ["name", "kind", "host", "is_signed", "forwards", "is_active", "created_at"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name"]
    readonly_fields = ["created_at"]
    actions = ["send_test_message"]

    @admin.display(description=_("host"))
    def host(self, bot):
        return urlsplit(bot.webhook_url).hostname  # the path and query carry the bot's token

    @admin.display(description=_("signed"), boolean=True)
    def is_signed(self, bot):
        return bool(bot.secret)

    @admin.display(description=_("forwards"))
    def forwards(self, bot):
        return ", ".join(notifications.kind_label(kind) for kind in bot.alert_kinds) or gettext("every alert")

    @admin.action(description=_("Send a test message to the selected bots"))
    def send_test_message(self, request, queryset):
        """One transaction: every selected bot gets its test message, or none does (the message names the bot)."""
        try:
            with transaction.atomic():
                count = sum(bots.send_test(bot=bot, by=request.user) for bot in queryset.order_by("pk"))
        except DomainError as error:
            self.message_user(request, error.message, messages.ERROR)
            return
        message = ngettext("%(count)d test message queued.", "%(count)d test messages queued.", count)
        self.message_user(request, message % {"count": count}, messages.SUCCESS)


class BotAttemptInline(admin.TabularInline):
    model = BotAttempt
    extra = 0
    can_delete = False
    readonly_fields = ["at", "response_status", "error", "duration_ms"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(BotDelivery)
class BotDeliveryAdmin(AdminsOnly, admin.ModelAdmin):
    list_display = ["alert_kind", "bot", "status", "attempts", "next_attempt_at", "created_at"]
    list_filter = ["status", "alert_kind", "bot"]
    search_fields = ["message_id", "text"]
    list_select_related = ["bot"]
    readonly_fields = [
        "bot",
        "message_id",
        "alert_kind",
        "text",
        "status",
        "attempts",
        "heartbeat_at",
        "next_attempt_at",
        "finished_at",
        "error",
    ]
    fields = readonly_fields
    inlines = [BotAttemptInline]
    actions = ["redeliver"]

    def has_add_permission(self, request):
        return False  # deliveries come from raised alerts (and the bots' test action) only

    @admin.action(description=_("Send the selected alerts again"))
    def redeliver(self, request, queryset):
        """One transaction: every selected delivery is queued again, or none is (the message names the blocker)."""
        try:
            count = bots.redeliver(delivery_ids=queryset.values_list("pk", flat=True), by=request.user)
        except DomainError as error:
            self.message_user(request, error.message, messages.ERROR)
            return
        message = ngettext("%(count)d delivery queued again.", "%(count)d deliveries queued again.", count)
        self.message_user(request, message % {"count": count}, messages.SUCCESS)


# knox registers its own admin (any staff with the model permission sees every token); this one replaces it.
if admin.site.is_registered(AuthToken):
    admin.site.unregister(AuthToken)


@admin.register(AuthToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """API tokens: staff see and revoke their own, admins everyone's. Tokens are made on the "API tokens" page,
    which shows the token once; here there is nothing to add or change."""

    list_display = ["user", "starts_with", "created", "expiry"]
    list_select_related = ["user"]
    search_fields = ["user__username"]
    ordering = ["-created"]
    fields = readonly_fields = ["user", "starts_with", "created", "expiry"]
    show_full_result_count = False

    def get_queryset(self, request):
        tokens_shown = super().get_queryset(request)
        return tokens_shown if roles.is_admin(request.user) else tokens_shown.filter(user=request.user)

    @admin.display(description=_("starts with"))
    def starts_with(self, token):
        return f"{token.token_key[:10]}…"

    def _owner_or_admin(self, request, token) -> bool:
        user = request.user
        return user.is_active and user.is_staff and (token is None or roles.is_admin(user) or token.user_id == user.pk)

    def has_module_permission(self, request):
        return self._owner_or_admin(request, None)

    def has_view_permission(self, request, obj=None):
        return self._owner_or_admin(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._owner_or_admin(request, obj)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def delete_model(self, request, obj):
        tokens.revoke_token(token=obj, by=request.user)

    def delete_queryset(self, request, queryset):
        for token in queryset:
            tokens.revoke_token(token=token, by=request.user)


class TaskStateFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "state"

    def lookups(self, request, _model_admin):
        return [("open", _("Open")), ("overdue", _("Overdue")), ("done", _("Done"))]

    def queryset(self, request, queryset):
        if self.value() == "open":
            return queryset.filter(done_at__isnull=True)
        if self.value() == "overdue":
            return queryset.filter(done_at__isnull=True, due_at__lt=timezone.now())
        if self.value() == "done":
            return queryset.filter(done_at__isnull=False)
        return queryset


@admin.action(description=_("Mark the selected tasks done"))
def mark_tasks_done(modeladmin, request, queryset):
    """One transaction: every selected task is completed through config.todo, or none is and the one that
    blocked it is named."""
    try:
        with transaction.atomic():
            for task in queryset.order_by("pk"):
                try:
                    todo.complete_task(task=task, by=request.user, outcome=gettext("Done (admin)."))
                except (DomainError, PermissionDenied) as exc:
                    message = getattr(exc, "message", None) or str(exc)
                    raise DomainError(
                        gettext("Task #%(id)s: %(message)s") % {"id": task.pk, "message": message}
                    ) from exc
    except DomainError as exc:
        modeladmin.message_user(request, exc.message, messages.ERROR)
        return
    modeladmin.message_user(request, gettext("Done."), messages.SUCCESS)


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    """Read-only rows: tasks are created and changed on the pages and the API (config.todo); the action completes
    them under the same rules."""

    list_display = ["task", "kind", "assignee", "department", "due_at", "done_at", "content_type", "object_id"]
    list_filter = [TaskStateFilter, "kind", "department", "content_type"]
    search_fields = ["title", "notes", "outcome", "assignee__username", "assignee__first_name", "assignee__last_name"]
    list_select_related = ["assignee", "content_type"]
    raw_id_fields = ["assignee", "created_by", "done_by"]
    show_full_result_count = False
    actions = [mark_tasks_done]

    @admin.display(description=_("task"), ordering="title")
    def task(self, obj):
        return obj.display_title

    def has_module_permission(self, request):
        return todo.may_view(request.user)

    def has_view_permission(self, request, obj=None):
        return todo.may_view(request.user)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        # Listing with actions needs change permission; the fields themselves stay read-only.
        return todo.may_view(request.user) and (obj is None or todo.may_act(request.user, obj))

    def has_delete_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]
