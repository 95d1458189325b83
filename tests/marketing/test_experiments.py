"""Experiments (DESIGN.md "Experiments"): deterministic assignment, results whose statistics match hand-computed
values, and the rules for declaring a winner, after which sends use it.

Every expected figure is worked out by hand in the comments (and with math/statistics from the standard library,
never with the statsmodels/scipy calls the code makes)."""

import hashlib
import math
from collections import Counter
from datetime import datetime, time, timedelta
from statistics import NormalDist

import pytest
import time_machine

from config.errors import DomainError
from customers.models import Customer, IdentityKind
from marketing import experiments, sending
from marketing.errors import ExperimentRefused
from marketing.models import ExperimentGoal, ExperimentStatus, Message, MessageStatus
from tests.factories import (
    ContentItemFactory,
    ContentVariantFactory,
    CustomerFactory,
    CustomerIdentityFactory,
    ExperimentFactory,
    make_user,
)
from tests.factories import experiment_messages as send

pytestmark = pytest.mark.django_db

NOW = datetime.fromisoformat("2026-03-10T10:00:00+08:00")  # a Tuesday morning, outside the quiet hours
Z_975 = NormalDist().inv_cdf(0.975)  # 1.959963984540054: the two-sided 95 % normal quantile


@pytest.fixture(autouse=True)
def _clock(settings):
    settings.RELAY_EXPERIMENT_MIN_SAMPLE = 100
    settings.RELAY_QUIET_HOURS = (time(21, 0), time(9, 0))
    settings.RELAY_MAX_MESSAGES_PER_WEEK = 3
    with time_machine.travel(NOW, tick=False):
        yield


def by_key(found):
    return {v.key: v for v in found.variants}


# ---------------------------------------------------------------- statistics against hand-computed values


def test_two_variants_get_the_pooled_two_proportion_z_test():
    experiment = ExperimentFactory(goal=ExperimentGoal.CLICK)
    send(experiment, "A", sent=1000, opened=400, clicked=120)
    send(experiment, "B", sent=1000, opened=410, clicked=150)
    found = experiments.results(experiment)
    # Pooled p = (120 + 150) / 2000 = 0.135; se = sqrt(0.135 · 0.865 · (1/1000 + 1/1000)) = sqrt(0.00023355)
    # = 0.0152823…; z = (0.120 − 0.150) / se = −1.963049…; two-sided p = erfc(|z| / √2) = 0.049640…
    se = math.sqrt(0.135 * 0.865 * (2 / 1000))
    assert se == pytest.approx(0.015282342752340035, abs=1e-15)
    z = (0.12 - 0.15) / se
    assert (found.test, found.chi2, found.dof) == (experiments.Z_TEST, None, None)
    assert found.z == pytest.approx(z, abs=1e-9) == pytest.approx(-1.963049807622355, abs=1e-9)
    assert found.p_value == pytest.approx(math.erfc(abs(z) / math.sqrt(2)), abs=1e-9)
    assert found.p_value == pytest.approx(0.0496403868653688, abs=1e-9)
    assert found.best.key == "B" and found.can_declare and found.verdict == experiments.SIGNIFICANT


def test_wilson_interval_of_each_rate_follows_the_formula():
    experiment = ExperimentFactory()
    send(experiment, "A", sent=1000, opened=400, clicked=120, converted=0)
    send(experiment, "B", sent=1000, opened=1000, clicked=150, converted=30)
    a, b = by_key(experiments.results(experiment)).values()

    def wilson(k, n):
        # centre (p̂ + z²/2n) / (1 + z²/n) ± z·sqrt(p̂(1 − p̂)/n + z²/4n²) / (1 + z²/n)
        p, z2 = k / n, Z_975**2
        centre = (p + z2 / (2 * n)) / (1 + z2 / n)
        half = Z_975 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
        return centre - half, centre + half

    # 120 / 1000: p̂ = 0.12 → [0.101299…, 0.141609…]
    assert a.click_rate == 0.12
    assert (a.click_rate_interval.low, a.click_rate_interval.high) == pytest.approx(wilson(120, 1000), abs=1e-12)
    assert (a.click_rate_interval.low, a.click_rate_interval.high) == pytest.approx(
        (0.10129926060130913, 0.14160907584771273), abs=1e-12
    )
    assert (a.open_rate_interval.low, a.open_rate_interval.high) == pytest.approx(wilson(400, 1000), abs=1e-12)
    # No conversion at all: the interval starts at 0 and still has width (Wilson, not Wald).
    assert a.conversion_rate == 0.0 and a.conversion_rate_interval.low == pytest.approx(0.0, abs=1e-12)
    assert a.conversion_rate_interval.high == pytest.approx(wilson(0, 1000)[1], abs=1e-12) and wilson(0, 1000)[1] > 0
    # Everyone opened: the interval ends at 1.
    assert b.open_rate == 1.0 and b.open_rate_interval.high == pytest.approx(1.0, abs=1e-12)
    assert (b.conversion_rate, b.conversion_rate_interval.low) == (0.03, pytest.approx(wilson(30, 1000)[0]))


def test_three_variants_get_the_chi_squared_test_of_the_table():
    experiment = ExperimentFactory(goal=ExperimentGoal.CLICK, variant_keys=["A", "B", "C"])
    send(experiment, "A", sent=100, clicked=10)
    send(experiment, "B", sent=100, clicked=20)
    send(experiment, "C", sent=100, clicked=30)
    found = experiments.results(experiment)
    # Clicks 60 of 300 = 0.2, so each row expects 20 clicks and 80 others.
    # χ² = (10−20)²/20 + (20−20)²/20 + (30−20)²/20 + (90−80)²/80 + (80−80)²/80 + (70−80)²/80
    #    = 5 + 0 + 5 + 1.25 + 0 + 1.25 = 12.5, with (3 − 1)·(2 − 1) = 2 degrees of freedom.
    # With 2 degrees of freedom the chi-squared survival function is exp(−x/2): p = exp(−6.25) = 0.0019304…
    assert (found.test, found.z, found.dof) == (experiments.CHI_SQUARED, None, 2)
    assert found.chi2 == pytest.approx(12.5, abs=1e-9)
    assert found.p_value == pytest.approx(math.exp(-6.25), abs=1e-12)
    assert found.best.key == "C" and found.can_declare


def test_the_test_follows_the_goal():
    experiment = ExperimentFactory(goal=ExperimentGoal.OPEN)
    send(experiment, "A", sent=1000, opened=500, clicked=120)
    send(experiment, "B", sent=1000, opened=500, clicked=150)
    found = experiments.results(experiment)
    # Opens are equal (500 vs 500): z = 0, p = 1, whatever the clicks.
    assert (found.z, found.p_value, found.verdict) == (0.0, pytest.approx(1.0), experiments.NOT_SIGNIFICANT)
    assert found.best is None  # a tie on the goal


def test_only_sent_messages_of_this_experiment_count():
    experiment = ExperimentFactory()
    other = ExperimentFactory()
    send(experiment, "A", sent=3, clicked=1)
    send(experiment, "A", sent=2, status=MessageStatus.SKIPPED)
    send(experiment, "A", sent=4, status=MessageStatus.QUEUED)
    send(other, "A", sent=7, clicked=7)
    variant_b = experiment.item.variants.get(key="B")
    Message.objects.create(  # a send of the item outside the experiment (before it started, say)
        customer=CustomerFactory(), item=experiment.item, variant=variant_b, status=MessageStatus.SENT, sent_at=NOW
    )
    a, b = experiments.results(experiment).variants
    assert (a.key, a.sent, a.clicked, a.click_rate) == ("A", 3, 1, pytest.approx(1 / 3))
    assert (b.key, b.sent, b.click_rate, b.click_rate_interval) == ("B", 0, None, None)


def test_no_test_without_sends_or_without_variance():
    experiment = ExperimentFactory()
    found = experiments.results(experiment)
    assert (found.p_value, found.verdict, found.can_declare) == (None, experiments.NO_SENDS, False)
    send(experiment, "A", sent=150, clicked=0)
    send(experiment, "B", sent=150, clicked=0)
    found = experiments.results(experiment)
    assert (found.z, found.p_value, found.verdict) == (None, None, experiments.NO_TEST)


# ---------------------------------------------------------------- assignment


def test_the_same_customer_always_gets_the_same_variant_and_customers_spread_evenly():
    item = ExperimentFactory(variant_keys=["B", "A"]).item  # created out of order: assignment goes by key
    a, b = item.variants.order_by("key")
    customers = [Customer(pk=pk) for pk in range(1, 1001)]
    first = [experiments.assign_variant(item, c) for c in customers]
    assert [experiments.assign_variant(item, c) for c in customers] == first
    counts = Counter(v.key for v in first)
    assert set(counts) == {"A", "B"} and 450 <= counts["A"] <= 550  # 1,000 fair coin flips: ±3.2 σ
    # The rule, pinned: sha256("<item>:<customer>"), first 8 bytes big-endian, modulo the variant count.
    digest = hashlib.sha256(f"{item.pk}:42".encode()).digest()
    assert experiments.assign_variant(item, Customer(pk=42)) == [a, b][int.from_bytes(digest[:8], "big") % 2]


def test_three_variants_spread_evenly_too():
    item = ExperimentFactory(variant_keys=["A", "B", "C"]).item
    counts = Counter(experiments.assign_variant(item, Customer(pk=pk)).key for pk in range(1, 1201))
    assert set(counts) == {"A", "B", "C"} and all(330 <= n <= 470 for n in counts.values())


def test_assignment_is_one_query(django_assert_num_queries):
    item = ExperimentFactory(variant_keys=["A", "B", "C", "D"]).item
    with django_assert_num_queries(1):
        experiments.assign_variant(item, Customer(pk=7))


def test_an_item_without_variants_cannot_be_assigned():
    with pytest.raises(DomainError) as refused:
        experiments.assign_variant(ContentItemFactory(), Customer(pk=1))
    assert (refused.value.field, refused.value.code) == ("content", "no_variant")


# ---------------------------------------------------------------- declaring the winner


def test_a_winner_is_refused_below_the_minimum_sample_even_when_significant():
    experiment = ExperimentFactory()
    send(experiment, "A", sent=99, clicked=5)
    send(experiment, "B", sent=150, clicked=60)
    found = experiments.results(experiment)
    assert found.p_value < 0.001 and found.verdict == experiments.TOO_FEW_SENDS and not found.can_declare
    with pytest.raises(ExperimentRefused) as refused:
        experiments.declare_winner(
            experiment=experiment, variant=experiment.item.variants.get(key="B"), by=make_user("marketing_manager")
        )
    assert (refused.value.status, refused.value.field, refused.value.code) == (409, "variant", "too_few_sends")


def test_a_winner_is_refused_when_p_is_not_below_0_05():
    experiment = ExperimentFactory()
    # 120/1000 vs 135/1000: pooled 0.1275, se = sqrt(0.1275·0.8725·0.002) = 0.014916…, z = −1.0056…, p = 0.3146…
    send(experiment, "A", sent=1000, clicked=120)
    send(experiment, "B", sent=1000, clicked=135)
    found = experiments.results(experiment)
    assert found.p_value == pytest.approx(math.erfc(0.015 / math.sqrt(0.1275 * 0.8725 * 0.002) / math.sqrt(2)))
    assert found.p_value > 0.05 and found.verdict == experiments.NOT_SIGNIFICANT
    with pytest.raises(ExperimentRefused) as refused:
        experiments.declare_winner(
            experiment=experiment, variant=experiment.item.variants.get(key="B"), by=make_user("marketing_manager")
        )
    assert (refused.value.field, refused.value.code) == ("variant", "not_significant")


def test_only_the_best_variant_can_win_and_then_every_send_uses_it():
    experiment = ExperimentFactory()
    send(experiment, "A", sent=1000, clicked=120)
    send(experiment, "B", sent=1000, clicked=150)
    a, b = experiment.item.variants.order_by("key")
    manager = make_user("marketing_manager")
    with pytest.raises(ExperimentRefused) as refused:
        experiments.declare_winner(experiment=experiment, variant=a, by=manager)
    assert (refused.value.field, refused.value.code) == ("variant", "not_best")

    declared = experiments.declare_winner(experiment=experiment, variant=b, by=manager)
    assert (declared.winner, declared.status, declared.declared_by, declared.declared_at) == (
        b,
        ExperimentStatus.FINISHED,
        manager,
        NOW,
    )
    assert {experiments.assign_variant(experiment.item, Customer(pk=pk)) for pk in range(1, 201)} == {b}
    # Through the one send service: a customer the hash put on A gets B now.
    customer = next(c for c in CustomerFactory.create_batch(20) if experiments.bucket(experiment.item_id, c.pk, 2) == 0)
    CustomerIdentityFactory(customer=customer, kind=IdentityKind.EMAIL, value="ada@example.com")
    message = sending.send_message(customer=customer, item=experiment.item, channel="email", now=NOW)
    assert (message.variant, message.status) == (b, MessageStatus.SENT)

    with pytest.raises(ExperimentRefused) as again:
        experiments.declare_winner(experiment=experiment, variant=b, by=manager)
    assert (again.value.field, again.value.code) == ("variant", "invalid_transition")


def test_results_after_the_declaration_count_the_test_only():
    experiment = ExperimentFactory()
    send(experiment, "A", sent=1000, clicked=120)
    send(experiment, "B", sent=1000, clicked=150)
    b = experiment.item.variants.get(key="B")
    experiment = experiments.declare_winner(experiment=experiment, variant=b, by=make_user("admin"))
    send(experiment, "B", sent=500, clicked=400, at=NOW + timedelta(hours=1))  # every later send goes to B
    found = experiments.results(experiment)
    assert [v.sent for v in found.variants] == [1000, 1000]
    assert found.p_value == pytest.approx(0.0496403868653688, abs=1e-9)
    assert (found.verdict, found.can_declare) == (experiments.DECLARED, False)


def test_a_three_variant_tie_at_the_top_cannot_be_declared():
    experiment = ExperimentFactory(variant_keys=["A", "B", "C"])
    send(experiment, "A", sent=200, clicked=10)
    send(experiment, "B", sent=200, clicked=40)
    send(experiment, "C", sent=200, clicked=40)
    found = experiments.results(experiment)
    assert found.p_value < 0.05 and found.best is None and found.verdict == experiments.TIED
    with pytest.raises(ExperimentRefused) as refused:
        experiments.declare_winner(
            experiment=experiment, variant=experiment.item.variants.get(key="B"), by=make_user("marketing_manager")
        )
    assert refused.value.code == "not_best"


def test_a_variant_of_another_item_is_refused():
    experiment = ExperimentFactory()
    stranger = ContentVariantFactory()
    with pytest.raises(DomainError) as refused:
        experiments.declare_winner(experiment=experiment, variant=stranger, by=make_user("marketing_manager"))
    assert (refused.value.status, refused.value.field) == (400, "variant")


def test_verdicts_read_plainly():
    experiment = ExperimentFactory()
    send(experiment, "A", sent=1000, clicked=120)
    send(experiment, "B", sent=1000, clicked=150)
    text = experiments.verdict_text(experiments.results(experiment))
    assert text == (
        "Variant B has the best click rate, and the difference is significant (p = 0.0496): it can be declared "
        "the winner."
    )
    assert experiments.format_p(0.00001) == "< 0.0001"
