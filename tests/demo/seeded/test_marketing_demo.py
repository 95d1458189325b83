"""The marketing part of the demo (demo/marketing.py): content in both languages for every stage, DESIGN.md's three
journeys active, a few hundred customer events with ~60 % activations, and a running experiment whose results page
has a verdict; deterministic, and a fresh demo's first beat run raises only a few missed activations."""

from collections import Counter
from datetime import date, datetime, time
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from marketing import experiments
from marketing.models import (
    ActivationWindow,
    ContentItem,
    CustomerEvent,
    Enrolment,
    Experiment,
    Journey,
    JourneyStatus,
    Message,
)

pytestmark = pytest.mark.django_db

NOW = timezone.make_aware(datetime.combine(date(2026, 11, 18), time(10)))


def _seed(**options):
    with time_machine.travel(NOW, tick=False):
        call_command("seed_demo", customers=300, leads=800, stdout=StringIO(), **options)


def _snapshot() -> dict:
    return {
        "content": sorted(ContentItem.objects.values_list("title", "stage", "language", "tags", "urls")),
        "variants": sorted(ContentItem.objects.values_list("title", "variants__key", "variants__title")),
        "journeys": sorted(Journey.objects.values_list("name", "trigger", "goal", "status", "steps__kind")),
        "events": sorted(CustomerEvent.objects.values_list("customer__name", "type", "at", "source", "properties")),
        "windows": sorted(
            ActivationWindow.objects.values_list("customer__name", "signed_up_at", "activated_at", "missed_at")
        ),
        # Who gets which variant hashes the item's and the customer's ids, which a reset renews: the same people
        # on the same channels at the same times, and the same verdict.
        "messages": sorted(
            Message.objects.filter(experiment__isnull=False).values_list("customer__name", "channel", "sent_at")
        ),
        "verdict": experiments.results(Experiment.objects.get()).verdict,
    }


def test_the_demo_has_content_journeys_events_and_an_experiment_with_a_verdict():
    _seed()
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


def test_the_marketing_demo_is_deterministic():
    _seed()
    first = _snapshot()
    _seed(reset=True)
    assert _snapshot() == first
