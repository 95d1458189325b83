from django.conf import settings
from django.contrib.contenttypes.fields import GenericRelation
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from config import audit
from leads.stages import Stage, in_pool, stage_rank


class Tag(models.Model):
    name = models.CharField(_("name"), max_length=50, unique=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        ordering = ["name"]

    def __str__(self):
        return self.name


class RejectReason(models.TextChoices):
    NO_BUDGET = "no_budget", _("No budget")
    NO_NEED = "no_need", _("No need")
    WRONG_CONTACT = "wrong_contact", _("Wrong contact")
    DUPLICATE = "duplicate", _("Duplicate")
    NOT_REACHABLE = "not_reachable", _("Not reachable")
    OTHER = "other", _("Other")


class LostReason(models.TextChoices):
    PRICE = "price", _("Price")
    COMPETITOR = "competitor", _("Chose a competitor")
    NO_DECISION = "no_decision", _("No decision")
    TIMING = "timing", _("Timing")
    NOT_REACHABLE = "not_reachable", _("Not reachable")
    OTHER = "other", _("Other")


class Lead(models.Model):
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="leads", verbose_name=_("customer")
    )
    stage = models.CharField(_("stage"), max_length=20, choices=Stage.choices, default=Stage.NEW)
    # Kept by leads.services._transition (the history is the truth): the funnel reads it instead of
    # scanning every stage change of the period's leads.
    furthest_stage = models.CharField(
        _("furthest stage reached"), max_length=20, choices=Stage.choices, default=Stage.NEW, editable=False
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="owned_leads",
        verbose_name=_("owner"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="created_leads",
        verbose_name=_("created by"),
    )
    source_channel = models.ForeignKey(
        "customers.Channel",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="leads",
        verbose_name=_("source channel"),
    )
    campaign = models.ForeignKey(
        "customers.Campaign",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="leads",
        verbose_name=_("campaign"),
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="leads", verbose_name=_("tags"))
    interest = models.CharField(_("interest"), max_length=300, blank=True)
    note = models.TextField(_("handoff note"), blank=True)
    referred_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="referred_leads",
        verbose_name=_("referred by"),
    )
    is_high_intent = models.BooleanField(_("high intent"), default=False)
    reject_reason = models.CharField(_("reject reason"), max_length=20, choices=RejectReason.choices, blank=True)
    reject_reason_text = models.CharField(_("reject reason details"), max_length=300, blank=True)
    lost_reason = models.CharField(_("lost reason"), max_length=20, choices=LostReason.choices, blank=True)
    lost_reason_text = models.CharField(_("lost reason details"), max_length=300, blank=True)
    # What sales expects the deal to bring (optional); the board sums it per stage and weighs it by the stage's
    # win probability (leads.stages.WIN_PROBABILITY). The won amount, once known, is the fact.
    deal_value = models.DecimalField(_("deal value"), max_digits=14, decimal_places=2, null=True, blank=True)
    won_amount = models.DecimalField(_("won amount"), max_digits=14, decimal_places=2, null=True, blank=True)
    won_order = models.OneToOneField(
        "customers.Order",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="won_lead",
        verbose_name=_("won order"),
    )
    # Timestamps the SLA checks and lists read; the stage history stays the record of truth.
    first_handed_off_at = models.DateTimeField(_("first handed off at"), null=True, blank=True)
    handed_off_at = models.DateTimeField(_("handed off at"), null=True, blank=True)
    accepted_at = models.DateTimeField(_("accepted at"), null=True, blank=True)
    contacted_at = models.DateTimeField(_("contacted at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    last_activity_at = models.DateTimeField(_("last activity at"), null=True, blank=True)
    # When it entered its current stage: on the row, so a transition that waited for the row lock reads the
    # time the previous transition wrote (a subquery would still see the history as of its own start).
    stage_entered_at = models.DateTimeField(_("in stage since"), null=True, blank=True)
    reclaim_blocked_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("may not reclaim"),
    )
    reclaim_blocked_until = models.DateTimeField(_("reclaim blocked until"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    history = audit.history()  # the audit log (config/audit.py)
    # Its next step and its onboarding (config.Task); deleting the lead deletes its tasks.
    tasks = GenericRelation("config.Task", related_query_name="lead")

    class Meta:
        verbose_name = _("lead")
        verbose_name_plural = _("leads")
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["stage", "-created_at"], name="leads_lead_stage_created_idx"),
            models.Index(fields=["owner", "stage"], name="leads_lead_owner_stage_idx"),
            models.Index(fields=["created_at"], name="leads_lead_created_idx"),
            models.Index(fields=["created_at", "furthest_stage", "stage"], name="leads_lead_funnel_idx"),
            models.Index(fields=["source_channel", "created_at"], name="leads_lead_channel_idx"),
            models.Index(fields=["campaign"], name="leads_lead_campaign_idx"),
            models.Index(fields=["stage", "handed_off_at"], name="leads_lead_handoff_sla_idx"),
            models.Index(fields=["stage", "accepted_at"], name="leads_lead_contact_sla_idx"),
            models.Index(fields=["closed_at"], name="leads_lead_closed_idx"),
            models.Index(fields=["referred_by"], name="leads_lead_referred_idx"),
            models.Index(fields=["stage", "last_activity_at"], name="leads_lead_recycle_idx"),
            models.Index(fields=["created_by", "stage"], name="leads_lead_creator_stage_idx"),
            # The lead list's sorts (config.lists, LeadFilter.ordering): last changed, and stage in pipeline order.
            models.Index(fields=["updated_at"], name="leads_lead_updated_idx"),
            models.Index(stage_rank(), F("id"), name="leads_lead_stage_rank_idx"),
            # The board: each column newest in its stage first (leads.selectors.BOARD_ORDER), keyset-paginated.
            models.Index(
                F("stage"),
                Coalesce(F("stage_entered_at"), F("created_at")).desc(),
                F("id").desc(),
                name="leads_lead_board_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(deal_value__gte=0), name="%(app_label)s_%(class)s_deal_value_not_negative"
            ),
        ]

    def __str__(self):
        return _("Lead #%(id)s") % {"id": self.pk}

    @property
    def in_pool(self) -> bool:
        return in_pool(self.stage, self.owner_id)


class LeadStageChange(models.Model):
    """Append-only stage history: cycle time and time in stage are computed from it."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="stage_changes", verbose_name=_("lead"))
    from_stage = models.CharField(_("from stage"), max_length=20, choices=Stage.choices, blank=True)
    to_stage = models.CharField(_("to stage"), max_length=20, choices=Stage.choices)
    at = models.DateTimeField(_("at"))
    # When the lead entered `from_stage`: the `at` of the lead's previous change (null for its first one).
    # Written with the change (leads.services._transition, the demo generator), so time in stage and
    # handoff waits need no per-row lookup.
    entered_at = models.DateTimeField(_("entered from stage at"), null=True, blank=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    reason = models.CharField(_("reason"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("lead stage change")
        verbose_name_plural = _("lead stage changes")
        ordering = ["at", "pk"]
        indexes = [
            models.Index(fields=["lead", "at"], name="leads_change_lead_at_idx"),
            models.Index(fields=["to_stage", "at"], name="leads_change_to_at_idx"),
            # Stage exits in a period (time in stage, handoff decisions), answered from the index alone.
            models.Index(fields=["from_stage", "at", "to_stage", "entered_at"], name="leads_change_exit_idx"),
            models.Index(fields=["lead", "to_stage", "at"], name="leads_change_lead_to_at_idx"),
            # The period's wins with their lead (cycle time, channel ROI/CAC), answered from the index alone.
            models.Index(fields=["to_stage", "at", "lead"], name="leads_change_to_at_lead_idx"),
        ]

    def __str__(self):
        return f"{self.from_stage or '∅'} → {self.to_stage}"


class ActivityKind(models.TextChoices):
    NOTE = "note", _("Note")
    CALL = "call", _("Call")
    MEETING = "meeting", _("Meeting")
    EMAIL = "email", _("Email")


class Activity(models.Model):
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="activities", verbose_name=_("lead"))
    kind = models.CharField(_("kind"), max_length=20, choices=ActivityKind.choices, default=ActivityKind.NOTE)
    body = models.TextField(_("text"))
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    at = models.DateTimeField(_("at"))

    class Meta:
        verbose_name = _("activity")
        verbose_name_plural = _("activities")
        ordering = ["-at", "-pk"]
        indexes = [
            models.Index(fields=["lead", "-at"], name="leads_activity_lead_at_idx"),
            # GET /api/v1/activities/: every lead's, newest first, and by who did them.
            models.Index(fields=["-at", "-id"], name="leads_activity_at_idx"),
            models.Index(fields=["by", "-at"], name="leads_activity_by_at_idx"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.at:%Y-%m-%d}"
