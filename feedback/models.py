from django.conf import settings
from django.contrib.contenttypes.fields import GenericRelation
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from config import audit


class ComplaintStatus(models.TextChoices):
    OPEN = "open", _("Open")
    IN_PROGRESS = "in_progress", _("In progress")
    RESOLVED = "resolved", _("Resolved")
    CLOSED = "closed", _("Closed")


class Severity(models.TextChoices):
    LOW = "low", _("Low")
    MEDIUM = "medium", _("Medium")
    HIGH = "high", _("High")
    CRITICAL = "critical", _("Critical")


def severity_rank() -> models.Case:
    """A complaint's severity as a number, low 0 … critical 3, for lists sorted by severity (the complaint table
    indexes this very expression: feedback_complaint_sev_idx)."""
    return models.Case(
        *[models.When(severity=level.value, then=models.Value(rank)) for rank, level in enumerate(Severity)],
        output_field=models.IntegerField(),
    )


class ComplaintCategory(models.TextChoices):
    PRODUCT = "product", _("Product")
    PRICE = "price", _("Price")
    DELIVERY = "delivery", _("Delivery")
    SERVICE_ATTITUDE = "service_attitude", _("Service attitude")
    BILLING = "billing", _("Billing")
    OTHER = "other", _("Other")


class Complaint(models.Model):
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="complaints", verbose_name=_("customer")
    )
    order = models.ForeignKey(
        "customers.Order",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="complaints",
        verbose_name=_("order"),
    )
    lead = models.ForeignKey(
        "leads.Lead",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="complaints",
        verbose_name=_("lead"),
    )
    category = models.CharField(_("category"), max_length=30, choices=ComplaintCategory.choices)
    severity = models.CharField(_("severity"), max_length=10, choices=Severity.choices, default=Severity.MEDIUM)
    channel = models.ForeignKey(
        "customers.Channel",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="complaints",
        verbose_name=_("channel"),
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="owned_complaints",
        verbose_name=_("owner"),
    )
    status = models.CharField(_("status"), max_length=20, choices=ComplaintStatus.choices, default=ComplaintStatus.OPEN)
    description = models.TextField(_("description"))
    resolution = models.TextField(_("resolution"), blank=True)
    opened_at = models.DateTimeField(_("opened at"))
    first_response_at = models.DateTimeField(_("first response at"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    first_response_due_at = models.DateTimeField(_("first response due"), null=True, blank=True)
    resolution_due_at = models.DateTimeField(_("resolution due"), null=True, blank=True)
    # The resolution clock starts at opening and again at a reopen.
    resolution_clock_from = models.DateTimeField(_("resolution clock started at"), null=True, blank=True)
    # Waiting on the customer pauses both SLA clocks; on resume the due times move by the paused business time.
    waiting_since = models.DateTimeField(_("waiting on customer since"), null=True, blank=True)
    paused_seconds = models.PositiveIntegerField(_("paused business seconds"), default=0)
    # Each SLA breach alerts once; the stamp also keeps the beat scan small.
    first_response_alerted_at = models.DateTimeField(_("first response breach alerted at"), null=True, blank=True)
    resolution_alerted_at = models.DateTimeField(_("resolution breach alerted at"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    # The audit log (config/audit.py) leaves out the alert stamps: the SLA beat sets them with a conditional UPDATE.
    history = audit.history(excluded_fields=["first_response_alerted_at", "resolution_alerted_at"])
    tasks = GenericRelation("config.Task", related_query_name="complaint")

    class Meta:
        verbose_name = _("complaint")
        verbose_name_plural = _("complaints")
        ordering = ["-opened_at", "-pk"]
        indexes = [
            models.Index(fields=["status", "-opened_at"], name="feedback_complaint_stat_idx"),
            models.Index(fields=["owner", "status"], name="feedback_complaint_owner_idx"),
            models.Index(fields=["opened_at"], name="feedback_complaint_open_idx"),
            models.Index(fields=["resolved_at"], name="feedback_complaint_resolv_idx"),
            models.Index(fields=["customer", "opened_at"], name="feedback_complaint_cust_idx"),
            models.Index(fields=["first_response_due_at"], name="feedback_complaint_frdue_idx"),
            models.Index(fields=["resolution_due_at"], name="feedback_complaint_rsdue_idx"),
            # Resolution times of the complaints resolved in a period (okr), answered from the index alone.
            models.Index(fields=["resolved_at", "opened_at"], name="feedback_complaint_resop_idx"),
            # The complaint list's sort by severity (config.lists, ComplaintFilter.ordering).
            models.Index(severity_rank(), models.F("id"), name="feedback_complaint_sev_idx"),
        ]

    def __str__(self):
        return _("Complaint #%(id)s") % {"id": self.pk}

    @property
    def is_waiting_on_customer(self) -> bool:
        return self.waiting_since is not None


class ChangeKind(models.TextChoices):
    STATUS = "status", _("Status change")
    PAUSE = "pause", _("Waiting on customer")
    RESUME = "resume", _("Customer replied")
    ASSIGN = "assign", _("Owner changed")


class ComplaintStatusChange(models.Model):
    """The complaint's history, append-only: status moves, SLA pauses and owner changes."""

    complaint = models.ForeignKey(
        Complaint, on_delete=models.CASCADE, related_name="status_changes", verbose_name=_("complaint")
    )
    from_status = models.CharField(_("from status"), max_length=20, choices=ComplaintStatus.choices, blank=True)
    to_status = models.CharField(_("to status"), max_length=20, choices=ComplaintStatus.choices)
    kind = models.CharField(_("kind"), max_length=10, choices=ChangeKind.choices, default=ChangeKind.STATUS)
    at = models.DateTimeField(_("at"))
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    note = models.TextField(_("note"), blank=True)

    class Meta:
        verbose_name = _("complaint status change")
        verbose_name_plural = _("complaint status changes")
        ordering = ["at", "pk"]
        indexes = [
            models.Index(fields=["complaint", "at"], name="feedback_cchange_at_idx"),
            models.Index(fields=["at"], name="feedback_cchange_at_only_idx"),
        ]

    def __str__(self):
        return f"{self.from_status or '∅'} → {self.to_status}"


class NpsSource(models.TextChoices):
    STAFF = "staff", _("Entered by staff")
    API = "api", _("API")
    SURVEY = "survey", _("Survey link")


class NpsInvitation(models.Model):
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="nps_invitations", verbose_name=_("customer")
    )
    token = models.CharField(_("token"), max_length=64, unique=True)
    email = models.EmailField(_("email"), blank=True)
    language = models.CharField(_("language"), max_length=10, default="en")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires at"))
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)

    class Meta:
        verbose_name = _("NPS invitation")
        verbose_name_plural = _("NPS invitations")
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["customer", "-created_at"], name="feedback_invite_cust_idx"),
            models.Index(fields=["sent_at"], name="feedback_invite_sent_idx"),
        ]

    def __str__(self):
        return _("NPS invitation #%(id)s") % {"id": self.pk}

    @property
    def language_label(self) -> str:
        """The survey language's name, translated (the code itself when it is no longer offered)."""
        return str(dict(settings.LANGUAGES).get(self.language, self.language))


class NpsResponse(models.Model):
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="nps_responses", verbose_name=_("customer")
    )
    score = models.PositiveSmallIntegerField(_("score"))
    comment = models.TextField(_("comment"), blank=True)
    answered_at = models.DateTimeField(_("answered at"))
    source = models.CharField(_("source"), max_length=10, choices=NpsSource.choices, default=NpsSource.STAFF)
    invitation = models.OneToOneField(
        NpsInvitation,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="response",
        verbose_name=_("invitation"),
    )
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("entered by"),
    )
    # Its detractor follow-up (config.Task); deleting the answer deletes its tasks.
    tasks = GenericRelation("config.Task", related_query_name="nps_response")

    class Meta:
        verbose_name = _("NPS response")
        verbose_name_plural = _("NPS responses")
        ordering = ["-answered_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(score__gte=0, score__lte=10), name="feedback_npsresponse_score_0_10")
        ]
        indexes = [
            models.Index(fields=["answered_at"], name="feedback_nps_answered_idx"),
            models.Index(fields=["customer", "answered_at"], name="feedback_nps_cust_idx"),
            models.Index(fields=["score", "id"], name="feedback_nps_score_idx"),  # the NPS list's sort
        ]

    def __str__(self):
        return f"{self.customer_id}: {self.score}"

    @property
    def category(self) -> str:
        return nps_category(self.score)


class NpsCategory(models.TextChoices):
    """The one place NPS buckets are defined: promoter 9–10, passive 7–8, detractor 0–6."""

    PROMOTER = "promoter", _("Promoter")
    PASSIVE = "passive", _("Passive")
    DETRACTOR = "detractor", _("Detractor")


PROMOTER_FROM, PASSIVE_FROM = 9, 7

# The same buckets as SQL conditions on NpsResponse.score (aggregates, list filters).
NPS_BUCKETS: dict[str, models.Q] = {
    NpsCategory.PROMOTER: models.Q(score__gte=PROMOTER_FROM),
    NpsCategory.PASSIVE: models.Q(score__gte=PASSIVE_FROM, score__lt=PROMOTER_FROM),
    NpsCategory.DETRACTOR: models.Q(score__lt=PASSIVE_FROM),
}


def nps_category(score: int) -> str:
    if score >= PROMOTER_FROM:
        return NpsCategory.PROMOTER
    return NpsCategory.PASSIVE if score >= PASSIVE_FROM else NpsCategory.DETRACTOR


class InsightTag(models.TextChoices):
    PRODUCT = "product", _("Product")
    PRICE = "price", _("Price")
    DELIVERY = "delivery", _("Delivery")
    SERVICE_ATTITUDE = "service_attitude", _("Service attitude")
    COMMUNICATION = "communication", _("Communication")
    COMPETITOR = "competitor", _("Competitor")
    OTHER = "other", _("Other")


class Insight(models.Model):
    """What service heard, tagged and routed to marketing: from a complaint or an NPS comment."""

    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="insights", verbose_name=_("customer")
    )
    complaint = models.ForeignKey(
        Complaint, on_delete=models.CASCADE, null=True, blank=True, related_name="insights", verbose_name=_("complaint")
    )
    nps_response = models.ForeignKey(
        NpsResponse,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="insights",
        verbose_name=_("NPS response"),
    )
    lead = models.ForeignKey(
        "leads.Lead", on_delete=models.SET_NULL, null=True, blank=True, related_name="insights", verbose_name=_("lead")
    )
    tag = models.CharField(_("tag"), max_length=30, choices=InsightTag.choices)
    note = models.TextField(_("note"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("routed by"),
    )
    created_at = models.DateTimeField(_("routed at"))
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("acknowledged by"),
    )

    class Meta:
        verbose_name = _("insight")
        verbose_name_plural = _("insights")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(complaint__isnull=False, nps_response__isnull=True)
                | Q(complaint__isnull=True, nps_response__isnull=False),
                name="feedback_insight_one_source",
            ),
            models.UniqueConstraint(fields=["complaint", "tag"], name="feedback_insight_once_per_complaint_tag"),
            models.UniqueConstraint(fields=["nps_response", "tag"], name="feedback_insight_once_per_answer_tag"),
        ]
        indexes = [
            models.Index(fields=["-created_at"], name="feedback_insight_created_idx"),
            models.Index(fields=["tag", "-created_at"], name="feedback_insight_tag_idx"),
            models.Index(fields=["customer", "created_at"], name="feedback_insight_cust_idx"),
        ]

    def __str__(self):
        return f"{self.get_tag_display()} #{self.pk}"
