from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from config import webhook_targets


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
