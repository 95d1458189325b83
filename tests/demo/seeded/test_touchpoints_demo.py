"""The demo's touchpoints (demo/touchpoints.py): six channels with kinds that fit them, about a third of the customers
reached on two or more channels, a visit for every lead with a source channel as Relay writes it, and touches
before the wins that make the attribution models disagree; deterministic."""

from collections import defaultdict
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from demo.touchpoints import KINDS
from leads.models import Lead
from marketing.models import Touchpoint, TouchpointKind
from okr import metrics
from okr.models import KeyResult, MetricSnapshot
from okr.selectors import current_quarter
from tests.demo.support import NOW

pytestmark = pytest.mark.django_db

SIX = {"wechat", "douyin", "xiaohongshu", "website", "store", "trade_show"}


def test_the_channels_reach_customers_with_a_third_on_two_or_more():
    touches = Touchpoint.objects.values_list("customer_id", "channel__code", "kind", "at", "external_id")
    channels = defaultdict(set)
    for customer, code, kind, at, external_id in touches:
        channels[customer].add(code)
        if not external_id.startswith("lead:"):  # the channels' own touches are of the kinds that fit them
            assert kind in {k for k, _w in KINDS[code]}, (code, kind)
        assert at <= NOW
    assert {code for codes in channels.values() for code in codes} >= SIX
    multi = sum(1 for codes in channels.values() if len(codes) >= 2)
    assert 0.25 <= multi / len(channels) <= 0.45, multi / len(channels)
    assert len(channels) >= 250  # most of the 300 customers are reached


def test_every_lead_with_a_source_channel_has_its_visit_as_relay_writes_it():
    leads = Lead.objects.filter(source_channel__isnull=False)
    visits = {
        t.external_id: t for t in Touchpoint.objects.filter(external_id__startswith="lead:").select_related("campaign")
    }
    assert len(visits) == leads.count() > 0
    for lead in leads:
        visit = visits[f"lead:{lead.pk}"]
        assert (visit.customer_id, visit.channel_id, visit.kind, visit.at) == (
            lead.customer_id,
            lead.source_channel_id,
            TouchpointKind.VISIT,
            lead.created_at,
        )
        assert visit.campaign_id == lead.campaign_id
        assert visit.campaign is None or visit.campaign.channel_id == lead.source_channel_id


def test_the_attribution_models_tell_different_stories_about_the_same_customers():
    end = timezone.localdate(NOW) + timedelta(days=1)
    start = end - timedelta(days=182)
    found = {}
    with time_machine.travel(NOW, tick=False):
        for model in metrics.ATTRIBUTION_MODELS:
            roi = metrics.compute("channel_roi", start=start, end=end, filters={"model": model})
            cac = metrics.compute("cac", start=start, end=end, filters={"model": model})
            found[model] = (roi, cac)
    customers = {model: cac["customers_won"] for model, (_roi, cac) in found.items()}
    revenue = {model: sum(Decimal(r["revenue"]) for r in roi["by_channel"]) for model, (roi, _cac) in found.items()}
    # Every model credits the same won customers and their revenue once: only the split between channels moves.
    assert len(set(customers.values())) == 1 and customers["lead_source"] > 20
    assert max(revenue.values()) - min(revenue.values()) <= Decimal("0.05")  # rounding of the credited cents
    credited = {
        model: {r["channel"]: r["customers_won"] for r in cac["by_channel"]} for model, (_roi, cac) in found.items()
    }
    for model in ("first_touch", "last_touch", "linear", "position_based"):
        assert credited[model] != credited["lead_source"], model
    assert credited["first_touch"] != credited["last_touch"]


def test_marketing_aims_to_cut_duplicate_reach_and_the_board_computes_it():
    with time_machine.travel(NOW, tick=False):
        quarter = current_quarter()
    kr = KeyResult.objects.get(objective__quarter=quarter, metric="duplicate_reach_rate")
    assert (kr.objective.department, kr.target, kr.direction) == ("marketing", Decimal("0.15"), "down")
    assert kr.check_ins.exists()  # its owner checks in every two weeks, like the other key results
    values = list(MetricSnapshot.objects.filter(key_result=kr).order_by("date").values_list("value", flat=True))
    assert len(values) > 30 and Decimal("0.1") < values[-1] < Decimal("0.5")  # the trend line, quarter to date
