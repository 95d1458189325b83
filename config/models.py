from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from config import audit, roles, webhook_targets


class Notification(models.Model):
    """An in-app notification. `dedupe_key` makes an alert land once per recipient."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notifications",
        verbose_name=_("recipient"),
    )
    kind = models.CharField(_("kind"), max_length=50)
    message = models.CharField(_("message"), max_length=500)
    url = models.CharField(_("link"), max_length=300, blank=True)
    dedupe_key = models.CharField(_("dedupe key"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    wants_email = models.BooleanField(_("email it"), default=False)
    emailed_at = models.DateTimeField(_("emailed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["recipient", "read_at", "-created_at"], name="config_notif_inbox_idx"),
            models.Index(
                fields=["recipient"],
                condition=models.Q(wants_email=True, emailed_at__isnull=True),
                name="config_notif_to_email_idx",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["recipient", "dedupe_key"],
                condition=~models.Q(dedupe_key=""),
                name="config_notification_once_per_key",
            )
        ]

    def __str__(self):
        return self.message


class JobStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class TrackedJob(models.Model):
    """A long job kept as a row, so a stalled one is picked up again by `sweep_stalled_jobs`.

    The filesystem broker loses messages when a worker dies; the row does not.
    Subclasses set `resume_task` to the dotted path of the task that (re)runs them.
    """

    resume_task: str = ""

    status = models.CharField(_("status"), max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    heartbeat_at = models.DateTimeField(_("last sign of life"), null=True, blank=True)
    claimed_by = models.CharField(_("worker"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        abstract = True


class Heartbeat(models.Model):
    """One row per worker beat: proves beat → broker → worker → database works."""

    name = models.CharField(_("name"), max_length=50, unique=True)
    beats = models.PositiveIntegerField(_("beats"), default=0)
    last_beat_at = models.DateTimeField(_("last beat at"), null=True)

    class Meta:
        verbose_name = _("heartbeat")
        verbose_name_plural = _("heartbeats")

    def __str__(self):
        return self.name


class IdempotencyRecord(models.Model):
    """The stored first response to a request with an `Idempotency-Key` header (kept 24 hours)."""

    scope = models.CharField(_("scope"), max_length=64)
    key = models.CharField(_("key"), max_length=255)
    request_hash = models.CharField(_("request hash"), max_length=64)
    is_complete = models.BooleanField(_("complete"), default=False)
    response_status = models.PositiveSmallIntegerField(_("response status"), null=True)
    response_body = models.BinaryField(_("response body"), null=True)
    response_content_type = models.CharField(_("content type"), max_length=100, blank=True)
    response_headers = models.JSONField(_("response headers"), default=dict, blank=True)
    # The request at work on the key ("host:pid:request") and until when it may hold it without finishing.
    holder = models.CharField(_("holder"), max_length=120, blank=True)
    leased_until = models.DateTimeField(_("leased until"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("idempotency record")
        verbose_name_plural = _("idempotency records")
        constraints = [models.UniqueConstraint(fields=["scope", "key"], name="config_idempotencyrecord_once")]

    def __str__(self):
        return self.key


class WebhookEndpoint(models.Model):
    """An outbound receiver. Deliveries follow the Standard Webhooks specification."""

    url = models.URLField(_("URL"), max_length=500, validators=[webhook_targets.validate_url])
    description = models.CharField(_("description"), max_length=200, blank=True)
    # Write-only: shown once when made (creation, rotation), never in a list, a detail or a form.
    secret = models.CharField(_("signing secret"), max_length=100)
    # After a rotation the old secret still signs until `previous_secret_expires_at` (RELAY_WEBHOOK_SECRET_GRACE_HOURS).
    previous_secret = models.CharField(_("previous signing secret"), max_length=100, blank=True)
    previous_secret_expires_at = models.DateTimeField(_("previous secret valid until"), null=True, blank=True)
    event_types = models.JSONField(_("event types"), default=list, blank=True, help_text=_("Empty: every event."))
    is_active = models.BooleanField(_("active"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    # Never the secrets: a history row is readable by more people, for longer, than the endpoint.
    history = audit.history(excluded_fields=["secret", "previous_secret"])  # the audit log (config/audit.py)

    class Meta:
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")
        ordering = ["pk"]

    def __str__(self):
        return self.url


class WebhookDelivery(TrackedJob):
    """One event for one endpoint; retried with backoff until delivered or out of attempts."""

    resume_task = "config.tasks.deliver_webhook"

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("endpoint")
    )
    message_id = models.CharField(_("message id"), max_length=100)
    event_type = models.CharField(_("event type"), max_length=100)
    payload = models.JSONField(_("payload"))
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-created_at", "-pk"]
        constraints = [models.UniqueConstraint(fields=["endpoint", "message_id"], name="config_webhookdelivery_once")]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="config_delivery_due_idx")]

    def __str__(self):
        return f"{self.event_type} → {self.endpoint_id}"


class WebhookAttempt(models.Model):
    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log", verbose_name=_("delivery")
    )
    at = models.DateTimeField(_("at"))
    response_status = models.PositiveSmallIntegerField(_("response status"), null=True)
    error = models.CharField(_("error"), max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), default=0)

    class Meta:
        verbose_name = _("webhook attempt")
        verbose_name_plural = _("webhook attempts")
        ordering = ["at", "pk"]

    def __str__(self):
        return f"{self.delivery_id} @ {self.at:%Y-%m-%d %H:%M}"


class OutboxMessage(models.Model):
    """Work a write implies, stored in the writer's transaction and handed to Celery after commit.

    The broker may be missing, down or slow: the row stays queued and `config.outbox.sweep`
    dispatches it later. A message with a `coalesce_key` is pending at most once, so a burst of
    writes queues one run.
    """

    task = models.CharField(_("task"), max_length=200)
    args = models.JSONField(_("arguments"), default=list, blank=True)
    queue = models.CharField(_("queue"), max_length=50)
    coalesce_key = models.CharField(_("coalesce key"), max_length=200, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    run_after = models.DateTimeField(_("run after"), default=timezone.now)
    dispatched_at = models.DateTimeField(_("handed to the broker at"), null=True, blank=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    started_by = models.CharField(_("started by"), max_length=200, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        verbose_name = _("background message")
        verbose_name_plural = _("background messages")
        ordering = ["-pk"]
        indexes = [
            models.Index(
                fields=["queue", "run_after"],
                condition=models.Q(status="queued"),
                name="config_outbox_pending_idx",
            ),
            models.Index(fields=["status", "started_at"], name="config_outbox_status_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["coalesce_key"],
                condition=models.Q(status="queued") & ~models.Q(coalesce_key=""),
                name="config_outboxmessage_pending_once",
            )
        ]

    def __str__(self):
        return f"{self.task}{tuple(self.args)}"


class SavedView(models.Model):
    """A person's named filters and sort of one list page (config.lists); only its owner ever sees it."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_views", verbose_name=_("person")
    )
    list_key = models.CharField(_("list"), max_length=50)
    name = models.CharField(_("name"), max_length=100)
    query_string = models.CharField(_("filters and sort"), max_length=2000, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("saved view")
        verbose_name_plural = _("saved views")
        ordering = ["name", "pk"]
        constraints = [
            # Saving under a name the person already uses for that list replaces that view.
            models.UniqueConstraint(fields=["user", "list_key", "name"], name="config_savedview_one_name_per_list")
        ]

    def __str__(self):
        return self.name


class TaskKind(models.TextChoices):
    GENERAL = "general", _("To-do")
    NEXT_STEP = "next_step", _("Next step")
    ONBOARDING = "onboarding", _("Onboarding")
    DETRACTOR = "detractor", _("Detractor follow-up")
    REVIEW_ACTION = "review_action", _("Review action")


# Kinds an event opens for a record, at most one per record (config.todo.ensure_task): a redelivered event
# finds the task it opened. The constraint below names them once more, as SQL.
ONCE_PER_RECORD_KINDS = (TaskKind.ONBOARDING, TaskKind.DETRACTOR)


class Task(models.Model):
    """A to-do of any department (DESIGN.md "Everyday work"): for a person (`assignee`) or a department's queue.

    `department` is the queue a task sits in, or the assignee's department when it was assigned, so the
    department's manager sees it; it is blank only for a task of someone in no department (an admin). The record
    it is about is generic (`content_type` + `object_id`, both null for a free-standing task): config knows no
    app, and each app registers its kinds of record in config.about. Writes go through config.todo.
    """

    title = models.CharField(_("title"), max_length=200, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    kind = models.CharField(_("kind"), max_length=20, choices=TaskKind.choices, default=TaskKind.GENERAL)
    due_at = models.DateTimeField(_("due at"), null=True, blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="tasks",
        verbose_name=_("assignee"),
    )
    department = models.CharField(
        _("department"), max_length=20, blank=True, choices=list(roles.DEPARTMENT_LABELS.items())
    )
    content_type = models.ForeignKey(
        "contenttypes.ContentType",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("about (type)"),
    )
    object_id = models.PositiveBigIntegerField(_("about (id)"), null=True, blank=True)
    about = GenericForeignKey("content_type", "object_id")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    # Not auto_now_add: services stamp their `now`, and the follow-ups copied in keep their own.
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("done by"),
    )
    outcome = models.TextField(_("what was done"), blank=True)
    # Each is stamped once, by the beat task that sends it (a conditional UPDATE); a new due time clears both.
    reminded_at = models.DateTimeField(_("due reminder sent at"), null=True, blank=True)
    alerted_at = models.DateTimeField(_("overdue alert sent at"), null=True, blank=True)

    class Meta:
        verbose_name = _("task")
        verbose_name_plural = _("tasks")
        ordering = ["due_at", "pk"]
        indexes = [
            # My open tasks by due time; my done tasks, latest first.
            models.Index(
                fields=["assignee", "due_at"], condition=models.Q(done_at__isnull=True), name="config_task_mine_idx"
            ),
            models.Index(
                fields=["assignee", "-done_at"], condition=models.Q(done_at__isnull=False), name="config_task_done_idx"
            ),
            # A department's open tasks (its queue, and its people's for the manager) by due time.
            models.Index(
                fields=["department", "due_at"], condition=models.Q(done_at__isnull=True), name="config_task_dept_idx"
            ),
            models.Index(fields=["content_type", "object_id"], name="config_task_about_idx"),
            # Open tasks by due time, of a kind (the follow-up queue).
            models.Index(
                fields=["kind", "due_at"], condition=models.Q(done_at__isnull=True), name="config_task_kind_idx"
            ),
            # The beat scans: due soon and not reminded, overdue and not alerted.
            models.Index(
                fields=["due_at"],
                condition=models.Q(done_at__isnull=True, reminded_at__isnull=True),
                name="config_task_remind_idx",
            ),
            models.Index(
                fields=["due_at"],
                condition=models.Q(done_at__isnull=True, alerted_at__isnull=True),
                name="config_task_overdue_idx",
            ),
        ]
        constraints = [
            # An event that runs twice (lead.won, a detractor answer) finds the task it opened.
            models.UniqueConstraint(
                fields=["kind", "content_type", "object_id"],
                condition=models.Q(kind__in=["onboarding", "detractor"]),
                name="config_task_once_per_record",
            ),
            # A record has at most one open next step: setting another replaces it.
            models.UniqueConstraint(
                fields=["content_type", "object_id"],
                condition=models.Q(kind="next_step", done_at__isnull=True),
                name="config_task_one_open_next_step",
            ),
            models.CheckConstraint(
                condition=models.Q(assignee__isnull=False) | ~models.Q(department=""),
                name="config_task_has_someone",
            ),
            models.CheckConstraint(
                condition=models.Q(content_type__isnull=True, object_id__isnull=True)
                | models.Q(content_type__isnull=False, object_id__isnull=False),
                name="config_task_about_whole",
            ),
        ]

    def __str__(self):
        return self.display_title

    @property
    def display_title(self) -> str:
        """The title, or for a task an event opened without one, its kind (shown in the reader's language)."""
        return self.title or str(self.get_kind_display())

    def is_overdue(self, now) -> bool:
        return self.done_at is None and self.due_at is not None and self.due_at < now


class ChatBotKind(models.TextChoices):
    FEISHU = "feishu", _("Feishu group bot")
    WECOM = "wecom", _("WeCom group bot")


class ChatBot(models.Model):
    """A Feishu or WeCom group bot that hears staff alerts (`alert.raised`: SLA breaches, missed activations,
    detractors…) as chat messages. Configured by admins in the Django admin; delivery is config/bots.py."""

    kind = models.CharField(_("kind"), max_length=10, choices=ChatBotKind.choices)
    name = models.CharField(_("name"), max_length=100)
    # The URL carries the bot's access token (WeCom's `key=`, Feishu's hook id): the admin list shows its host only.
    webhook_url = models.URLField(_("webhook URL"), max_length=500, validators=[webhook_targets.validate_url])
    # Feishu's signing secret ("signature verification"); WeCom group bots sign nothing. Write-only in the admin.
    secret = models.CharField(_("signing secret"), max_length=200, blank=True)
    alert_kinds = models.JSONField(_("alert kinds"), default=list, blank=True, help_text=_("Empty: every alert."))
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("chat bot")
        verbose_name_plural = _("chat bots")
        ordering = ["name", "pk"]

    def __str__(self):
        return self.name


class BotDelivery(TrackedJob):
    """One alert for one chat bot; retried with backoff (config.webhooks.RETRY_DELAYS) until delivered."""

    resume_task = "config.tasks.deliver_bot_message"

    bot = models.ForeignKey(ChatBot, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("chat bot"))
    message_id = models.CharField(_("message id"), max_length=100)
    alert_kind = models.CharField(_("alert kind"), max_length=50)
    text = models.TextField(_("text"))
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)

    class Meta:
        verbose_name = _("chat bot delivery")
        verbose_name_plural = _("chat bot deliveries")
        ordering = ["-created_at", "-pk"]
        constraints = [models.UniqueConstraint(fields=["bot", "message_id"], name="config_botdelivery_once")]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="config_botdelivery_due_idx")]

    def __str__(self):
        return f"{self.alert_kind} → {self.bot_id}"


class BotAttempt(models.Model):
    delivery = models.ForeignKey(
        BotDelivery, on_delete=models.CASCADE, related_name="attempt_log", verbose_name=_("delivery")
    )
    at = models.DateTimeField(_("at"))
    response_status = models.PositiveSmallIntegerField(_("response status"), null=True)
    error = models.CharField(_("error"), max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), default=0)

    class Meta:
        verbose_name = _("chat bot attempt")
        verbose_name_plural = _("chat bot attempts")
        ordering = ["at", "pk"]

    def __str__(self):
        return f"{self.delivery_id} @ {self.at:%Y-%m-%d %H:%M}"
