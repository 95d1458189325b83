"""A/B experiments (DESIGN.md "Experiments"): who sees which variant, the results with their statistics, and the
declaration of a winner.

* Assignment: `assign_variant(item, customer)` is the one rule — a stable hash of the item and the customer picks
  one of the item's variants in key order, so the same customer always sees the same variant and customers spread
  evenly; once a winner is declared every send gets the winner. Sending (marketing/sending.py) asks it.
* Results: per variant the sent, opened, clicked and converted messages of the experiment (one SQL aggregate
  grouped by variant; after a declaration only the messages sent up to it, the sends after it all go to the
  winner), each rate with its 95 % Wilson interval, and the test on the experiment's goal: a two-proportion z-test
  for two variants, a chi-squared test of the variants × (goal reached, not reached) table for three or more.
  The statistics are statsmodels' and scipy's, not ours.
* Declaration: a marketing manager declares a winner only when p < 0.05, every variant has at least
  RELAY_EXPERIMENT_MIN_SAMPLE sends, and the variant is the one with the best rate on the goal.
"""

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from scipy.stats import chi2_contingency
from statsmodels.stats.proportion import proportion_confint, proportions_ztest

from config.errors import DomainError
from customers.models import Customer
from marketing import permissions
from marketing.errors import ExperimentRefused
from marketing.models import (
    ContentItem,
    ContentVariant,
    Experiment,
    ExperimentGoal,
    ExperimentStatus,
    Message,
    MessageStatus,
)

SIGNIFICANCE = 0.05  # a winner needs p below this
CONFIDENCE = 0.95  # of the Wilson intervals
# The count each goal is reached by, among a variant's sent messages.
GOAL_COUNTS = {ExperimentGoal.OPEN: "opened", ExperimentGoal.CLICK: "clicked", ExperimentGoal.CONVERSION: "converted"}
GOAL_RATE_LABELS = {
    ExperimentGoal.OPEN: gettext_lazy("open rate"),
    ExperimentGoal.CLICK: gettext_lazy("click rate"),
    ExperimentGoal.CONVERSION: gettext_lazy("conversion rate"),
}
Z_TEST, CHI_SQUARED = "two_proportion_z", "chi_squared"

# Verdicts, in the order they are decided (`Results.verdict`).
DECLARED, STOPPED, NO_SENDS, TOO_FEW_SENDS, NO_TEST, NOT_SIGNIFICANT, TIED, SIGNIFICANT = (
    "declared",
    "stopped",
    "no_sends",
    "too_few_sends",
    "no_test",
    "not_significant",
    "tied",
    "significant",
)


# ---------------------------------------------------------------- assignment


def bucket(item_id: int, customer_id: int, count: int) -> int:
    """The customer's place among `count` variants of the item: sha256 of "item:customer", its first 8 bytes as an
    unsigned number, modulo `count`. Stable across processes and releases (never Python's hash())."""
    digest = hashlib.sha256(f"{item_id}:{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % count


def assign_variant(item: ContentItem, customer: Customer) -> ContentVariant:
    """The variant of `item` that `customer` sees: the declared winner of the item's experiment once there is one,
    else the same variant every time, the item's variants taken in key order. One query.

    Raises DomainError (field "content", code "no_variant") for an item without variants."""
    winner_of_item = Experiment.objects.filter(item_id=item.pk, winner_id=OuterRef("pk"))
    variants = list(
        ContentVariant.objects.filter(item_id=item.pk).annotate(is_winner=Exists(winner_of_item)).order_by("key", "pk")
    )
    if not variants:
        raise DomainError(_("This content has no variant to send yet."), field="content", code="no_variant")
    winner = next((variant for variant in variants if variant.is_winner), None)
    return winner or variants[bucket(item.pk, customer.pk, len(variants))]


# ---------------------------------------------------------------- statistics


@dataclass(frozen=True)
class Interval:
    low: float
    high: float


def _number(value) -> float | None:
    """A statistic as a plain float; None when it is not a number (a degenerate table)."""
    value = float(value)
    return value if math.isfinite(value) else None


def wilson(successes: int, trials: int) -> Interval | None:
    """The 95 % Wilson score interval of successes / trials; None without trials."""
    if trials <= 0:
        return None
    low, high = proportion_confint(successes, trials, alpha=1 - CONFIDENCE, method="wilson")
    return Interval(low=float(low), high=float(high))


def z_test(successes: list[int], trials: list[int]) -> tuple[float, float] | None:
    """(z, two-sided p) of the pooled two-proportion z-test of two variants; None when a variant has no sends or
    the goal was reached by all or none (no variance to test)."""
    if min(trials) <= 0 or sum(successes) in (0, sum(trials)):
        return None
    z, p = proportions_ztest(successes, trials, alternative="two-sided")
    z, p = _number(z), _number(p)
    return None if z is None or p is None else (z, p)


def chi_squared(successes: list[int], trials: list[int]) -> tuple[float, float, int] | None:
    """(chi², p, degrees of freedom) of the test of independence of the variants × (reached, not reached) table;
    None when a variant has no sends or the goal was reached by all or none (an expected count would be 0)."""
    if min(trials) <= 0 or sum(successes) in (0, sum(trials)):
        return None
    table = [[hit, sent - hit] for hit, sent in zip(successes, trials, strict=True)]
    found = chi2_contingency(table)  # Yates' correction applies to 2×2 tables only: never here (3 rows or more)
    chi2, p = _number(found.statistic), _number(found.pvalue)
    return None if chi2 is None or p is None else (chi2, p, int(found.dof))


def format_p(p: float) -> str:
    """A p-value as people read it: four decimals, or "< 0.0001"."""
    if p < 0.0001:
        return "< " + number_format(0.0001, 4)
    return number_format(round(p, 4), 4)


# ---------------------------------------------------------------- results


@dataclass(frozen=True)
class VariantResult:
    variant: int
    key: str
    title: str
    sent: int
    opened: int
    clicked: int
    converted: int

    def rate(self, count: int) -> float | None:
        return count / self.sent if self.sent else None

    @property
    def open_rate(self) -> float | None:
        return self.rate(self.opened)

    @property
    def click_rate(self) -> float | None:
        return self.rate(self.clicked)

    @property
    def conversion_rate(self) -> float | None:
        return self.rate(self.converted)

    @property
    def open_rate_interval(self) -> Interval | None:
        return wilson(self.opened, self.sent)

    @property
    def click_rate_interval(self) -> Interval | None:
        return wilson(self.clicked, self.sent)

    @property
    def conversion_rate_interval(self) -> Interval | None:
        return wilson(self.converted, self.sent)

    def reached(self, goal: str) -> int:
        return getattr(self, GOAL_COUNTS[goal])


@dataclass(frozen=True)
class Results:
    experiment: Experiment
    variants: list[VariantResult]
    test: str  # Z_TEST for two variants, CHI_SQUARED for more
    z: float | None
    chi2: float | None
    dof: int | None
    p_value: float | None
    min_sample: int
    best: VariantResult | None  # the single variant with the highest rate on the goal (None on a tie)
    can_declare: bool
    verdict: str

    @property
    def goal(self) -> str:
        return self.experiment.goal

    def goal_rate(self, variant: VariantResult) -> float | None:
        return variant.rate(variant.reached(self.goal))

    def goal_interval(self, variant: VariantResult) -> Interval | None:
        return wilson(variant.reached(self.goal), variant.sent)


def variant_counts(experiment: Experiment) -> list[VariantResult]:
    """Each variant of the experiment's item (in key order, also those with no send) with the experiment's sent
    messages and how many of them were opened, clicked and converted. One query, however many messages.

    After a declaration only the messages sent up to it count: the later ones all went to the winner."""
    sent = Q(messages__experiment_id=experiment.pk, messages__status=MessageStatus.SENT)
    if experiment.declared_at is not None:
        sent &= Q(messages__sent_at__lte=experiment.declared_at)
    rows = (
        ContentVariant.objects.filter(item_id=experiment.item_id)
        .order_by("key", "pk")
        .values("pk", "key", "title")
        .annotate(
            sent=Count("messages", filter=sent),
            opened=Count("messages", filter=sent & Q(messages__opened_at__isnull=False)),
            clicked=Count("messages", filter=sent & Q(messages__clicked_at__isnull=False)),
            converted=Count("messages", filter=sent & Q(messages__converted_at__isnull=False)),
        )
    )
    return [
        VariantResult(
            variant=row["pk"],
            key=row["key"],
            title=row["title"],
            sent=row["sent"],
            opened=row["opened"],
            clicked=row["clicked"],
            converted=row["converted"],
        )
        for row in rows
    ]


def _best(variants: list[VariantResult], goal: str) -> VariantResult | None:
    """The variant with the highest rate on the goal, among those with sends; None when two share the top (rates
    compared exactly, as fractions)."""
    rated = sorted(((Fraction(v.reached(goal), v.sent), v) for v in variants if v.sent), key=lambda pair: pair[0])
    if not rated or (len(rated) > 1 and rated[-1][0] == rated[-2][0]):
        return None
    return rated[-1][1]


def _verdict(experiment: Experiment, variants: list[VariantResult], p: float | None, best, min_sample: int) -> str:
    if experiment.winner_id is not None:
        return DECLARED
    if experiment.status == ExperimentStatus.FINISHED:
        return STOPPED
    if not any(v.sent for v in variants):
        return NO_SENDS
    if min(v.sent for v in variants) < min_sample:
        return TOO_FEW_SENDS
    if p is None:
        return NO_TEST
    if p >= SIGNIFICANCE:
        return NOT_SIGNIFICANT
    if best is None:
        return TIED
    return SIGNIFICANT


def results(experiment: Experiment) -> Results:
    """The experiment's results (module docstring): one query for the counts, the rest is arithmetic."""
    variants = variant_counts(experiment)
    goal = experiment.goal
    successes, trials = [v.reached(goal) for v in variants], [v.sent for v in variants]
    z = chi2 = dof = p = None
    test = Z_TEST if len(variants) <= 2 else CHI_SQUARED
    if len(variants) == 2:
        found = z_test(successes, trials)
        if found is not None:
            z, p = found
    elif len(variants) > 2:
        found = chi_squared(successes, trials)
        if found is not None:
            chi2, p, dof = found
    min_sample = settings.RELAY_EXPERIMENT_MIN_SAMPLE
    best = _best(variants, goal)
    verdict = _verdict(experiment, variants, p, best, min_sample)
    return Results(
        experiment=experiment,
        variants=variants,
        test=test,
        z=z,
        chi2=chi2,
        dof=dof,
        p_value=p,
        min_sample=min_sample,
        best=best,
        can_declare=verdict == SIGNIFICANT,
        verdict=verdict,
    )


def verdict_text(found: Results) -> str:
    """The results in one plain sentence, for the results page."""
    experiment, goal_rate = found.experiment, GOAL_RATE_LABELS[found.goal]
    if found.verdict == DECLARED:
        return _("Variant %(key)s won on %(goal)s; every send of this content uses it now.") % {
            "key": experiment.winner.key,
            "goal": goal_rate,
        }
    if found.verdict == STOPPED:
        return _("This experiment was stopped without a winner.")
    if found.verdict == NO_SENDS:
        return _("No message of this experiment has been sent yet.")
    if found.verdict == TOO_FEW_SENDS:
        return _(
            "Keep it running: every variant needs %(min)s sends before a winner can be declared, and the fewest so "
            "far is %(fewest)s."
        ) % {"min": found.min_sample, "fewest": min(v.sent for v in found.variants)}
    if found.verdict == NO_TEST:
        return _("No variant differs yet: every message reached the goal, or none did.")
    if found.verdict == NOT_SIGNIFICANT:
        return _("No significant difference in %(goal)s yet (p = %(p)s): it may be chance. Keep it running.") % {
            "goal": goal_rate,
            "p": format_p(found.p_value),
        }
    if found.verdict == TIED:
        return _("The variants differ (p = %(p)s), but the best two share the top %(goal)s.") % {
            "goal": goal_rate,
            "p": format_p(found.p_value),
        }
    return _(
        "Variant %(key)s has the best %(goal)s, and the difference is significant (p = %(p)s): it can be declared "
        "the winner."
    ) % {"key": found.best.key, "goal": goal_rate, "p": format_p(found.p_value)}


# ---------------------------------------------------------------- selectors


def experiments() -> QuerySet[Experiment]:
    """Every experiment with its item, winner and declarer, the latest started first (the list page and API)."""
    return Experiment.objects.select_related("item", "winner", "declared_by").order_by("-started_at", "-pk")


def experiment_detail(*, pk: int) -> Experiment:
    """Raises Experiment.DoesNotExist."""
    return experiments().get(pk=pk)


def items_ready_for_experiment() -> QuerySet[ContentItem]:
    """Active content with two or more variants and no experiment yet (the create form's choices)."""
    return (
        ContentItem.objects.filter(is_active=True, experiment__isnull=True)
        .annotate(variant_count=Count("variants"))
        .filter(variant_count__gte=2)
        .order_by("title", "pk")
    )


# ---------------------------------------------------------------- services


@transaction.atomic
def create_experiment(*, by, item: ContentItem, goal: str, now: datetime | None = None) -> Experiment:
    """Start an A/B test of `item`'s variants on `goal` (open, click or conversion).

    Raises PermissionDenied; DomainError (field "item", code "too_few_variants") for an item with fewer than two
    variants; ExperimentRefused (409, field "item", code "exists") when the item already has an experiment."""
    permissions.require(by, "experiment.create")
    now = now or timezone.now()
    item = ContentItem.objects.select_for_update().get(pk=item.pk)  # two racing creates: the second sees the first
    check_item(item)
    return Experiment.objects.create(item=item, goal=goal, status=ExperimentStatus.RUNNING, started_at=now)


def check_item(item: ContentItem) -> None:
    """May `item` start an experiment? Raises DomainError (field "item", code "too_few_variants") or
    ExperimentRefused (field "item", code "exists"). The admin's form asks it too, so a refusal shows on the field."""
    if item.variants.count() < 2:
        raise DomainError(
            _("An experiment compares variants: give this content at least two first."),
            field="item",
            code="too_few_variants",
        )
    if Experiment.objects.filter(item=item).exists():
        raise ExperimentRefused(_("This content already has an experiment."), field="item", code="exists")


def _finished(experiment: Experiment, field: str) -> ExperimentRefused:
    return ExperimentRefused(
        _("This experiment is finished and can no longer change."), field=field, code="invalid_transition"
    )


@transaction.atomic
def update_experiment(*, experiment: Experiment, by, goal: str | None = None, status: str | None = None) -> Experiment:
    """Change the goal of a running experiment, or stop it without a winner (`status` "finished").

    Raises PermissionDenied; ExperimentRefused (409 `invalid_transition`, field "goal" or "status") for a finished
    experiment."""
    permissions.require(by, "experiment.change", experiment)
    experiment = Experiment.objects.select_for_update().get(pk=experiment.pk)
    if experiment.status == ExperimentStatus.FINISHED and (goal is not None or status is not None):
        raise _finished(experiment, "status" if status is not None else "goal")
    changed = []
    if goal is not None and goal != experiment.goal:
        experiment.goal = goal
        changed.append("goal")
    if status == ExperimentStatus.FINISHED:
        experiment.status = ExperimentStatus.FINISHED
        changed.append("status")
    if changed:
        experiment.save(update_fields=[*changed, "updated_at"])
    return experiment


@transaction.atomic
def delete_experiment(*, experiment: Experiment, by) -> None:
    """Delete an experiment that has sent nothing (one created by mistake); one with messages is stopped instead.

    Raises PermissionDenied; ExperimentRefused (409, field "messages", code "in_use")."""
    permissions.require(by, "experiment.change", experiment)
    experiment = Experiment.objects.select_for_update().get(pk=experiment.pk)
    if Message.objects.filter(experiment=experiment).exists():
        raise ExperimentRefused(
            _("Messages were sent in this experiment: stop it instead, so its results stay."),
            field="messages",
            code="in_use",
        )
    experiment.delete()


@transaction.atomic
def declare_winner(*, experiment: Experiment, variant: ContentVariant, by, now: datetime | None = None) -> Experiment:
    """Declare `variant` the winner and finish the experiment: from then on every send of the item uses it.

    Refused unless p < 0.05, every variant has RELAY_EXPERIMENT_MIN_SAMPLE sends and `variant` has the best rate on
    the goal. Raises PermissionDenied (marketing managers only); DomainError (field "variant") for a variant of
    another item; ExperimentRefused (409, field "variant"), code `invalid_transition` (already finished),
    `too_few_sends`, `not_significant` or `not_best`."""
    permissions.require(by, "experiment.declare", experiment)
    now = now or timezone.now()
    experiment = Experiment.objects.select_for_update().get(pk=experiment.pk)
    if experiment.status == ExperimentStatus.FINISHED:
        raise _finished(experiment, "variant")
    if variant.item_id != experiment.item_id:
        raise DomainError(_("This variant belongs to another content item."), field="variant")
    found = results(experiment)
    goal_rate = GOAL_RATE_LABELS[experiment.goal]
    if found.verdict in (TOO_FEW_SENDS, NO_SENDS):
        raise ExperimentRefused(
            _("Every variant needs %(min)s sends before a winner is declared.") % {"min": found.min_sample},
            field="variant",
            code="too_few_sends",
        )
    if found.verdict == TIED:
        raise ExperimentRefused(
            _("Two variants share the best %(goal)s: neither can be declared the winner.") % {"goal": goal_rate},
            field="variant",
            code="not_best",
        )
    if not found.can_declare:
        raise ExperimentRefused(
            _("The difference in %(goal)s is not significant (p must be below 0.05).") % {"goal": goal_rate},
            field="variant",
            code="not_significant",
        )
    if found.best.variant != variant.pk:
        raise ExperimentRefused(
            _("Variant %(key)s does not have the best %(goal)s: variant %(best)s does.")
            % {"key": variant.key, "goal": goal_rate, "best": found.best.key},
            field="variant",
            code="not_best",
        )
    experiment.winner = variant
    experiment.status = ExperimentStatus.FINISHED
    experiment.declared_by = by
    experiment.declared_at = now
    experiment.save(update_fields=["winner", "status", "declared_by", "declared_at", "updated_at"])
    return experiment
