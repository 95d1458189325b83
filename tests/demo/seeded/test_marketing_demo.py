"""The marketing part of the demo (demo/marketing.py): content in both languages for every stage, DESIGN.md's three
journeys active, a few hundred customer events with ~60 % activations, and a running experiment whose results page
has a verdict; deterministic, and a fresh demo's first beat run raises only a few missed activations."""

from collections import Counter

import pytest

from marketing import experiments
from marketing.models import (
    ActivationWindow,
    ContentItem,
    CustomerEvent,
    Enrolment,
    Experiment,
    Journey,
    JourneyStatus,
)
from tests.demo.support import NOW

pytestmark = pytest.mark.django_db


def test_the_demo_has_content_journeys_events_and_an_experiment_with_a_verdict():
    stages = set(ContentItem.objects.values_list("stage", "language"))
    assert stages == {
        (s, lang) for s in ("awareness", "consideration", "decision", "loyalty") for lang in ("en", "zh-hans")
    }
    assert max(Counter(ContentItem.objects.values_list("variants__item", flat=True)).values()) >= 2

    active = Journey.objects.filter(status=JourneyStatus.ACTIVE)
    assert sorted(j.trigger["type"] for j in active) == ["lead.flagged_high_intent", "nps.detractor", "signed_up"]
    assert all(j.steps.filter(kind="send").exists() for j in active)
    assert active.get(trigger__type="lead.flagged_high_intent").steps.filter(kind="task").exists()
    # The last two days' sign-ups came in through the service: the welcome journey enrolled them.
    assert Enrolment.objects.filter(journey__trigger__type="signed_up").exists()

    kinds = Counter(CustomerEvent.objects.values_list("type", flat=True))
    assert kinds["signed_up"] == ActivationWindow.objects.count() >= 25
    assert kinds["page_view"] > kinds["signed_up"]
    assert sum(kinds.values()) >= 100
    windows = ActivationWindow.objects.all()
    share = windows.filter(activated_at__isnull=False).count() / windows.count()
    assert 0.45 <= share <= 0.75, share
    assert not CustomerEvent.objects.filter(at__gt=NOW).exists()

    experiment = Experiment.objects.get()
    found = experiments.results(experiment)
    assert found.verdict == "significant", found
    assert all(v.sent >= 100 for v in found.variants)
