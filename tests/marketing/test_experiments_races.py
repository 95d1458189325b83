"""Experiment races on PostgreSQL (SQLite serialises writers): two people starting an experiment for one item make
one; two managers declaring at once declare once."""

import pytest

from config.errors import DomainError
from marketing import experiments
from marketing.models import Experiment
from tests.factories import ContentItemFactory, ContentVariantFactory, ExperimentFactory, make_user
from tests.factories import experiment_messages as send
from tests.races import at_once

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _codes(outcomes: list) -> list:
    return [outcome.code if isinstance(outcome, DomainError) else outcome for outcome in outcomes]


def test_two_racing_creates_make_one_experiment_and_a_409():
    item = ContentItemFactory()
    for key in ("A", "B"):
        ContentVariantFactory(item=item, key=key)
    marketer = make_user("marketing")

    def create():
        return experiments.create_experiment(by=marketer, item=item, goal="click").pk

    outcomes = _codes(at_once(create, create))
    assert sorted(outcomes, key=str) == sorted([Experiment.objects.get().pk, "exists"], key=str)


def test_two_racing_declarations_declare_once(settings):
    settings.RELAY_EXPERIMENT_MIN_SAMPLE = 100
    experiment = ExperimentFactory()
    send(experiment, "A", sent=1000, clicked=120)
    send(experiment, "B", sent=1000, clicked=150)
    b = experiment.item.variants.get(key="B")
    managers = [make_user("marketing_manager"), make_user("admin")]

    def declare():
        by = managers.pop()
        return experiments.declare_winner(experiment=experiment, variant=b, by=by).declared_by_id

    outcomes = _codes(at_once(declare, declare))
    declared = Experiment.objects.get()
    assert declared.winner == b
    assert sorted(outcomes, key=str) == sorted([declared.declared_by_id, "invalid_transition"], key=str)
