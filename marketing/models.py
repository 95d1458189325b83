"""Marketing's tables (DESIGN.md "Marketing: events, journeys, content, experiments").

Customer events come in from the site and integrations (CustomerEvent); a sign-up opens an activation window.
Journeys enrol customers on a trigger and run their steps (Journey, JourneyStep, Enrolment, StepRun); a send step
writes one Message of a content variant; an experiment compares an item's variants.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from config import audit


class EventType(models.TextChoices):
    """The built-in event types; anything else must be "custom:<name>" (marketing.events checks the name)."""

    SIGNED_UP = "signed_up", _("Signed up")
    ACTIVATED = "activated", _("Activated")
    PAGE_VIEW = "page_view", _("Page view")
    FORM_SUBMITTED = "form_submitted", _("Form submitted")
    PURCHASE = "purchase", _("Purchase")


class CustomerEvent(models.Model):
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="events", verbose_name=_("customer")
    )
    # Not a choices field: besides EventType, integrations send "custom:<name>".
    type = models.CharField(_("type"), max_length=80)
    at = models.DateTimeField(_("at"))
    source = models.CharField(_("source"), max_length=50)
    external_id = models.CharField(_("external id"), max_length=200, blank=True)
    properties = models.JSONField(_("properties"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )

    class Meta:
        verbose_name = _("customer event")
        verbose_name_plural = _("customer events")
        ordering = ["-at", "-pk"]
        constraints = [
            # A resend of the same event (same source and id) is recognised, never written twice.
            models.UniqueConstraint(
                fields=["source", "external_id"],
                condition=~Q(external_id=""),
                name="marketing_customerevent_one_per_source_id",
            ),
        ]
        indexes = [
            models.Index(fields=["customer", "type", "at"], name="marketing_event_cust_type_idx"),
            models.Index(fields=["type", "at"], name="marketing_event_type_at_idx"),
            models.Index(fields=["-at", "-id"], name="marketing_event_at_idx"),  # the events list's sort
            models.Index(fields=["source", "at"], name="marketing_event_source_idx"),  # the list's source filter
        ]

    def __str__(self):
        return f"{self.type} #{self.pk}"


class ActivationWindow(models.Model):
    """A sign-up's time to activate (RELAY_ACTIVATION_WINDOW_HOURS); missed_at is stamped once, when the beat
    raises activation.missed."""

    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="activation_windows", verbose_name=_("customer")
    )
    signed_up_event = models.OneToOneField(
        CustomerEvent, on_delete=models.CASCADE, related_name="activation_window", verbose_name=_("sign-up event")
    )
    signed_up_at = models.DateTimeField(_("signed up at"))
    due_at = models.DateTimeField(_("activation due"))
    activated_at = models.DateTimeField(_("activated at"), null=True, blank=True)
    missed_at = models.DateTimeField(_("missed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("activation window")
        verbose_name_plural = _("activation windows")
        ordering = ["-signed_up_at", "-pk"]
        indexes = [
            models.Index(fields=["missed_at", "activated_at", "due_at"], name="marketing_window_due_idx"),
            models.Index(fields=["signed_up_at"], name="marketing_window_signup_idx"),  # activation_rate's period
        ]

    def __str__(self):
        return _("Activation window #%(id)s") % {"id": self.pk}


class ContentStage(models.TextChoices):
    """The lifecycle stage content is written for; the same values as customers' LifecycleStage, so a
    stage-matched recommendation compares them directly."""

    AWARENESS = "awareness", _("Awareness")
    CONSIDERATION = "consideration", _("Consideration")
    DECISION = "decision", _("Decision")
    LOYALTY = "loyalty", _("Loyalty")


class ContentItem(models.Model):
    title = models.CharField(_("title"), max_length=200)
    stage = models.CharField(_("stage"), max_length=20, choices=ContentStage.choices)
    language = models.CharField(_("language"), max_length=10, default="en")
    tags = models.JSONField(_("tags"), default=list, blank=True)
    # The link targets its messages may carry (click tracking only redirects to these).
    urls = models.JSONField(_("allowed links"), default=list, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("content item")
        verbose_name_plural = _("content items")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["stage", "language", "is_active"], name="marketing_content_stage_idx")]

    def __str__(self):
        return self.title


class ContentVariant(models.Model):
    item = models.ForeignKey(ContentItem, on_delete=models.CASCADE, related_name="variants", verbose_name=_("item"))
    key = models.CharField(_("key"), max_length=10)  # "A", "B", …
    title = models.CharField(_("title"), max_length=200)
    cover_url = models.URLField(_("cover image"), blank=True)
    body = models.TextField(_("body"))
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("content variant")
        verbose_name_plural = _("content variants")
        ordering = ["item", "key"]
        constraints = [
            models.UniqueConstraint(fields=["item", "key"], name="marketing_contentvariant_one_key_per_item"),
        ]

    def __str__(self):
        return f"{self.item_id}/{self.key}"


class MessageChannel(models.TextChoices):
    EMAIL = "email", _("Email")
    SMS = "sms", _("SMS")
    WECHAT = "wechat", _("WeChat")
    WECOM = "wecom", _("WeCom")


class MessageStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SENT = "sent", _("Sent")
    SKIPPED = "skipped", _("Skipped")
    FAILED = "failed", _("Failed")


class JourneyStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    ACTIVE = "active", _("Active")
    PAUSED = "paused", _("Paused")


class Journey(models.Model):
    name = models.CharField(_("name"), max_length=200)
    trigger = models.JSONField(_("trigger"), default=dict)  # {"type": ..., plus its options}
    audience = models.JSONField(_("audience"), default=dict, blank=True)
    goal = models.CharField(_("goal"), max_length=80, blank=True)
    reentry = models.BooleanField(_("re-entry allowed"), default=False)
    status = models.CharField(_("status"), max_length=10, choices=JourneyStatus.choices, default=JourneyStatus.DRAFT)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    activated_at = models.DateTimeField(_("activated at"), null=True, blank=True)
    history = audit.history()  # the audit log (config/audit.py); its steps keep their own

    class Meta:
        verbose_name = _("journey")
        verbose_name_plural = _("journeys")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["status"], name="marketing_journey_status_idx")]

    def __str__(self):
        return self.name


class StepKind(models.TextChoices):
    WAIT = "wait", _("Wait")
    SEND = "send", _("Send content")
    TASK = "task", _("Create a task")
    TAG = "tag", _("Tag the customer")
    NOTIFY = "notify", _("Notify")


class JourneyStep(models.Model):
    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="steps", verbose_name=_("journey"))
    position = models.PositiveIntegerField(_("position"))
    kind = models.CharField(_("kind"), max_length=10, choices=StepKind.choices)
    config = models.JSONField(_("settings"), default=dict, blank=True)
    # Removed steps stay, so enrolments part-way through never strand; the engine skips them.
    is_removed = models.BooleanField(_("removed"), default=False)
    history = audit.history()

    class Meta:
        verbose_name = _("journey step")
        verbose_name_plural = _("journey steps")
        ordering = ["journey", "position", "pk"]
        indexes = [models.Index(fields=["journey", "position"], name="marketing_step_position_idx")]

    def __str__(self):
        return f"{self.journey_id}#{self.position} {self.kind}"


class EnrolmentStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    CONVERTED = "converted", _("Converted")
    COMPLETED = "completed", _("Completed")
    EXITED = "exited", _("Exited")


class Enrolment(models.Model):
    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="enrolments", verbose_name=_("journey"))
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="enrolments", verbose_name=_("customer")
    )
    status = models.CharField(
        _("status"), max_length=10, choices=EnrolmentStatus.choices, default=EnrolmentStatus.ACTIVE
    )
    next_position = models.PositiveIntegerField(_("next step position"), default=0)
    next_run_at = models.DateTimeField(_("next run at"), null=True, blank=True)
    entered_at = models.DateTimeField(_("entered at"))
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    # What enrolled them (event, record id): the same trigger delivered twice enrols once.
    trigger_key = models.CharField(_("trigger key"), max_length=200)

    class Meta:
        verbose_name = _("enrolment")
        verbose_name_plural = _("enrolments")
        ordering = ["-entered_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["journey", "customer"],
                condition=Q(status="active"),
                name="marketing_enrolment_one_active_per_customer",
            ),
            models.UniqueConstraint(fields=["journey", "trigger_key"], name="marketing_enrolment_one_per_trigger"),
        ]
        indexes = [
            models.Index(fields=["status", "next_run_at"], name="marketing_enrol_next_run_idx"),
            models.Index(fields=["journey", "-id"], name="marketing_enrol_journey_idx"),  # a journey's list
        ]

    def __str__(self):
        return _("Enrolment #%(id)s") % {"id": self.pk}


class StepRunStatus(models.TextChoices):
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    SKIPPED = "skipped", _("Skipped")
    FAILED = "failed", _("Failed")


class StepRun(models.Model):
    enrolment = models.ForeignKey(Enrolment, on_delete=models.CASCADE, related_name="runs", verbose_name=_("enrolment"))
    step = models.ForeignKey(JourneyStep, on_delete=models.CASCADE, related_name="runs", verbose_name=_("step"))
    status = models.CharField(_("status"), max_length=10, choices=StepRunStatus.choices, default=StepRunStatus.RUNNING)
    started_at = models.DateTimeField(_("started at"))
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    note = models.TextField(_("note"), blank=True)
    # The task a task step opened: a rerun of the step finds it here and opens none.
    task = models.OneToOneField(
        "config.Task",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="journey_step_run",
        verbose_name=_("task"),
    )

    class Meta:
        verbose_name = _("step run")
        verbose_name_plural = _("step runs")
        ordering = ["started_at", "pk"]
        constraints = [
            # A step runs once per enrolment, however often the engine's task is delivered.
            models.UniqueConstraint(fields=["enrolment", "step"], name="marketing_steprun_once_per_step"),
        ]

    def __str__(self):
        return f"{self.enrolment_id}/{self.step_id} {self.status}"


class ExperimentGoal(models.TextChoices):
    OPEN = "open", _("Opens")
    CLICK = "click", _("Clicks")
    CONVERSION = "conversion", _("Conversions")


class ExperimentStatus(models.TextChoices):
    RUNNING = "running", _("Running")
    FINISHED = "finished", _("Finished")


class Experiment(models.Model):
    item = models.OneToOneField(
        ContentItem, on_delete=models.CASCADE, related_name="experiment", verbose_name=_("content item")
    )
    goal = models.CharField(_("goal"), max_length=20, choices=ExperimentGoal.choices)
    status = models.CharField(
        _("status"), max_length=10, choices=ExperimentStatus.choices, default=ExperimentStatus.RUNNING
    )
    started_at = models.DateTimeField(_("started at"))
    winner = models.ForeignKey(
        ContentVariant,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="won_experiments",
        verbose_name=_("winner"),
    )
    declared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("declared by"),
    )
    declared_at = models.DateTimeField(_("declared at"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)  # the API's ETag (marketing/experiments.py)

    class Meta:
        verbose_name = _("experiment")
        verbose_name_plural = _("experiments")
        ordering = ["-started_at", "-pk"]
        indexes = [models.Index(fields=["started_at"], name="marketing_experiment_start_idx")]  # the list's order

    def __str__(self):
        return _("Experiment #%(id)s") % {"id": self.pk}


class Message(models.Model):
    """One piece of content to one customer on one channel; a journey's send step writes exactly one."""

    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="marketing_messages", verbose_name=_("customer")
    )
    item = models.ForeignKey(
        ContentItem, on_delete=models.PROTECT, related_name="messages", verbose_name=_("content item")
    )
    variant = models.ForeignKey(
        ContentVariant, on_delete=models.PROTECT, related_name="messages", verbose_name=_("variant")
    )
    channel = models.CharField(_("channel"), max_length=10, choices=MessageChannel.choices)
    status = models.CharField(_("status"), max_length=10, choices=MessageStatus.choices, default=MessageStatus.QUEUED)
    skip_reason = models.CharField(_("skip reason"), max_length=30, blank=True)
    journey = models.ForeignKey(
        Journey, on_delete=models.SET_NULL, null=True, blank=True, related_name="messages", verbose_name=_("journey")
    )
    enrolment = models.ForeignKey(
        Enrolment,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="messages",
        verbose_name=_("enrolment"),
    )
    step_run = models.OneToOneField(
        StepRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="message", verbose_name=_("step run")
    )
    experiment = models.ForeignKey(
        Experiment,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="messages",
        verbose_name=_("experiment"),
    )
    scheduled_for = models.DateTimeField(_("scheduled for"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    opened_at = models.DateTimeField(_("opened at"), null=True, blank=True)
    clicked_at = models.DateTimeField(_("clicked at"), null=True, blank=True)
    converted_at = models.DateTimeField(_("converted at"), null=True, blank=True)
    conversion_kind = models.CharField(_("conversion kind"), max_length=30, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["customer", "sent_at"], name="marketing_message_cust_idx"),
            models.Index(fields=["item", "sent_at"], name="marketing_message_item_idx"),
            models.Index(fields=["journey", "sent_at"], name="marketing_message_journey_idx"),
            models.Index(fields=["status", "scheduled_for"], name="marketing_message_status_idx"),
            # The content metrics' period (and their channel filter) and the messages list's sort by sent time.
            models.Index(fields=["sent_at"], name="marketing_message_sent_idx"),
            models.Index(fields=["channel", "sent_at"], name="marketing_message_channel_idx"),
        ]

    def __str__(self):
        return _("Message #%(id)s") % {"id": self.pk}


class Unsubscribe(models.Model):
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="unsubscribes", verbose_name=_("customer")
    )
    channel = models.CharField(_("channel"), max_length=10, choices=MessageChannel.choices)
    at = models.DateTimeField(_("at"))

    class Meta:
        verbose_name = _("unsubscribe")
        verbose_name_plural = _("unsubscribes")
        ordering = ["-at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "channel"], name="marketing_unsubscribe_one_per_channel"),
        ]

    def __str__(self):
        return f"{self.customer_id}: {self.channel}"


class TouchpointKind(models.TextChoices):
    IMPRESSION = "impression", _("Impression")
    CLICK = "click", _("Click")
    VISIT = "visit", _("Visit")
    SCAN = "scan", _("Store scan")
    MESSAGE = "message", _("Message")


class Touchpoint(models.Model):
    """One contact of a customer with a channel (and perhaps a campaign): posted by integrations, imported by CSV,
    or written by Relay for its own messages ("message:<id>") and leads' source channels ("lead:<id>")."""

    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="touchpoints", verbose_name=_("customer")
    )
    channel = models.ForeignKey(
        "customers.Channel", on_delete=models.PROTECT, related_name="touchpoints", verbose_name=_("channel")
    )
    campaign = models.ForeignKey(
        "customers.Campaign",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="touchpoints",
        verbose_name=_("campaign"),
    )
    kind = models.CharField(_("kind"), max_length=12, choices=TouchpointKind.choices)
    at = models.DateTimeField(_("at"))
    external_id = models.CharField(_("external id"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )

    class Meta:
        verbose_name = _("touchpoint")
        verbose_name_plural = _("touchpoints")
        ordering = ["-at", "-pk"]
        constraints = [
            # A resend of the same touch (same channel and id) is recognised, never written twice.
            models.UniqueConstraint(
                fields=["channel", "external_id"],
                condition=~Q(external_id=""),
                name="marketing_touchpoint_one_per_channel_id",
            ),
        ]
        indexes = [
            # Overlap reads (customer, channel) for a period from this index alone.
            models.Index(fields=["at", "channel", "customer"], name="marketing_touch_at_idx"),
            # Attribution's lookback before each win, and the customer's timeline.
            models.Index(fields=["customer", "at"], name="marketing_touch_cust_idx"),
            # Exclusion lists and the list's channel filter.
            models.Index(fields=["channel", "at"], name="marketing_touch_channel_idx"),
            models.Index(fields=["-at", "-id"], name="marketing_touch_list_idx"),  # the list's sort
        ]

    def __str__(self):
        return _("Touchpoint #%(id)s") % {"id": self.pk}
