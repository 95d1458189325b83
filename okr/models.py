from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from config import audit
from config.roles import DEPARTMENT_LABELS


class Objective(models.Model):
    department = models.CharField(_("department"), max_length=20, choices=list(DEPARTMENT_LABELS.items()))
    quarter = models.CharField(_("quarter"), max_length=7, help_text=_("For example 2026Q4."))
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="objectives", verbose_name=_("owner")
    )
    title = models.CharField(_("title"), max_length=200)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    history = audit.history()  # the audit log (config/audit.py)

    class Meta:
        verbose_name = _("objective")
        verbose_name_plural = _("objectives")
        ordering = ["quarter", "department", "pk"]
        indexes = [models.Index(fields=["quarter", "department"], name="okr_objective_quarter_idx")]

    def __str__(self):
        return self.title


class Direction(models.TextChoices):
    UP = "up", _("Higher is better")
    DOWN = "down", _("Lower is better")


class KeyResult(models.Model):
    objective = models.ForeignKey(
        Objective, on_delete=models.CASCADE, related_name="key_results", verbose_name=_("objective")
    )
    title = models.CharField(_("title"), max_length=200)
    metric = models.CharField(_("metric"), max_length=50, blank=True, help_text=_("Empty for a manual key result."))
    metric_filters = models.JSONField(_("metric filters"), default=dict, blank=True)
    baseline = models.DecimalField(_("baseline"), max_digits=14, decimal_places=4)
    target = models.DecimalField(_("target"), max_digits=14, decimal_places=4)
    direction = models.CharField(_("direction"), max_length=4, choices=Direction.choices, default=Direction.UP)
    manual_value = models.DecimalField(
        _("current value (manual)"), max_digits=14, decimal_places=4, null=True, blank=True
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    history = audit.history()  # the audit log (config/audit.py)

    class Meta:
        verbose_name = _("key result")
        verbose_name_plural = _("key results")
        ordering = ["objective", "pk"]

    def __str__(self):
        return self.title


class CheckIn(models.Model):
    key_result = models.ForeignKey(
        KeyResult, on_delete=models.CASCADE, related_name="check_ins", verbose_name=_("key result")
    )
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("by")
    )
    at = models.DateTimeField(_("at"))
    confidence = models.PositiveSmallIntegerField(_("confidence (0–10)"))
    value = models.DecimalField(_("value"), max_digits=14, decimal_places=4, null=True, blank=True)
    comment = models.TextField(_("comment"), blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("check-in")
        verbose_name_plural = _("check-ins")
        ordering = ["-at", "-pk"]
        constraints = [models.CheckConstraint(condition=Q(confidence__lte=10), name="okr_checkin_confidence_0_10")]
        indexes = [models.Index(fields=["key_result", "-at"], name="okr_checkin_kr_at_idx")]

    def __str__(self):
        return f"{self.key_result_id} @ {self.at:%Y-%m-%d}"


class MetricSnapshot(models.Model):
    key_result = models.ForeignKey(
        KeyResult, on_delete=models.CASCADE, related_name="snapshots", verbose_name=_("key result")
    )
    date = models.DateField(_("date"))
    value = models.DecimalField(_("value"), max_digits=14, decimal_places=4, null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("metric snapshot")
        verbose_name_plural = _("metric snapshots")
        ordering = ["key_result", "date"]
        constraints = [models.UniqueConstraint(fields=["key_result", "date"], name="okr_metricsnapshot_one_per_day")]

    def __str__(self):
        return f"{self.key_result_id} {self.date}"


class ReviewNoteKind(models.TextChoices):
    FINDING = "finding", _("Finding")
    ACTION = "action", _("Action")


class ReviewNote(models.Model):
    """A finding or an action of a department's quarterly process review (DESIGN.md "Everyday work"); an action
    becomes a task (config.Task, kind review_action), whose status the review shows. Written by okr.services."""

    quarter = models.CharField(_("quarter"), max_length=7, help_text=_("For example 2026Q4."))
    department = models.CharField(_("department"), max_length=20, choices=list(DEPARTMENT_LABELS.items()))
    kind = models.CharField(_("kind"), max_length=10, choices=ReviewNoteKind.choices)
    text = models.TextField(_("text"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"))
    task = models.ForeignKey(
        "config.Task",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("task"),
        help_text=_("The task an action became."),
    )

    class Meta:
        verbose_name = _("review note")
        verbose_name_plural = _("review notes")
        ordering = ["quarter", "department", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["finding", "action"]), name="okr_reviewnote_kind_finding_or_action"
            ),
            # Only an action becomes a task.
            models.CheckConstraint(
                condition=Q(kind="action") | Q(task__isnull=True), name="okr_reviewnote_task_of_action"
            ),
        ]
        indexes = [models.Index(fields=["quarter", "department"], name="okr_reviewnote_quarter_idx")]

    def __str__(self):
        return f"{self.quarter} {self.department} {self.kind} #{self.pk}"
