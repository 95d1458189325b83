"""Every trigger of DESIGN.md "Journeys" reaches the journeys through the one event publisher, from the service that
makes it happen: a customer event, a lead flagged high intent, a lifecycle stage change, entering an RFM segment, an
order, a detractor answer, a missed activation, a loyalty tier change, and a tag on a lead."""

from datetime import timedelta

import pytest
from django.utils import timezone

from config import events
from customers import services as customer_services
from customers import tasks as customer_tasks
from feedback import services as feedback_services
from leads import services as lead_services
from marketing import journeys
from marketing import services as marketing_services
from marketing.models import Enrolment, JourneyStatus
from tests.factories import CustomerFactory, OrderFactory, lead_through, make_user
from tests.marketing.journey_support import NOW, committing, emailable, frozen_clock, live_journey, record
from tests.webhook_events import endpoints_for, sent

pytestmark = pytest.mark.django_db

WAIT = [{"kind": "wait", "hours": 1}]
AT_UTC = "2026-03-10T02:00:00Z"  # NOW as webhook payloads carry it


@pytest.fixture
def clock(settings):
    yield from frozen_clock(settings)


def _entered(journey) -> list[str]:
    return sorted(Enrolment.objects.filter(journey=journey).values_list("customer__name", flat=True))


def test_a_customer_event_type_starts_its_journey(clock):
    webinar = live_journey(WAIT, trigger={"type": "custom:webinar"})
    other = live_journey(WAIT, trigger={"type": "page_view"})
    record(emailable("Ada"), "custom:webinar", external_id="w1")
    assert (_entered(webinar), _entered(other)) == (["Ada"], [])


def test_a_lead_flagged_high_intent_starts_its_journey_once(clock):
    journey = live_journey(WAIT, trigger={"type": "lead.flagged_high_intent"})
    wanted, _others = endpoints_for("lead.flagged_high_intent")
    lead = lead_through("accepted", customer=CustomerFactory(name="Ada"))
    lead_services.flag_high_intent(lead=lead, by=lead.owner)
    lead_services.flag_high_intent(lead=lead, by=lead.owner)  # already flagged: nothing new
    assert _entered(journey) == ["Ada"]
    [(event_type, data)] = sent(wanted)
    assert (event_type, data["lead"], data["customer"], data["owner"]) == (
        "lead.flagged_high_intent",
        lead.pk,
        lead.customer_id,
        lead.owner_id,
    )


def test_a_lifecycle_change_to_the_stage_starts_its_journey(clock):
    decision = live_journey(WAIT, trigger={"type": "lifecycle.changed", "stage": "decision"})
    loyalty = live_journey(WAIT, trigger={"type": "lifecycle.changed", "stage": "loyalty"})
    wanted, _others = endpoints_for("lifecycle.changed")
    lead = lead_through("accepted", customer=CustomerFactory(name="Ada"))
    CustomerFactory(name="Bo")  # stays in awareness: no change, no event

    customer_tasks.recompute_segments()
    customer_tasks.recompute_segments()  # nothing changed since: nothing announced

    assert (_entered(decision), _entered(loyalty)) == (["Ada"], [])
    assert [data for _type, data in sent(wanted)] == [{"customer": lead.customer_id, "stage": "decision", "at": AT_UTC}]


def test_entering_a_segment_starts_its_journey_once_per_change(clock):
    """Five customers with one order each of the same amount, a day apart: recency quintiles 1…5 (newest 5),
    frequency and monetary all 1. R ≥ 4 with one order is "new": the two newest; R 3 is "potential"; the rest are
    "hibernating" (customers.segments.SEGMENT_SQL)."""
    journey = live_journey(WAIT, trigger={"type": "segment.entered", "segment": "new"})
    for age, name in enumerate(["E", "D", "C", "B", "A"]):  # A is the newest
        OrderFactory(customer=CustomerFactory(name=name), amount="100.00", ordered_at=NOW - timedelta(days=5 - age))
    customer_tasks.recompute_segments()
    customer_tasks.recompute_segments()
    assert _entered(journey) == ["A", "B"]


def test_an_order_starts_its_journey(clock):
    journey = live_journey(WAIT, trigger={"type": "order.placed"})
    customer = CustomerFactory(name="Ada")
    customer_services.place_order(customer=customer, amount="50.00", ordered_at=NOW, by=make_user("sales"))
    assert _entered(journey) == ["Ada"]


def test_a_detractor_answer_starts_its_journey_and_others_do_not(clock):
    journey = live_journey(WAIT, trigger={"type": "nps.detractor"})
    wanted, _others = endpoints_for("nps.detractor")
    service = make_user("service")
    detractor = feedback_services.record_nps_response(by=service, customer=CustomerFactory(name="Ada"), score=6)
    feedback_services.record_nps_response(by=service, customer=CustomerFactory(name="Bo"), score=7)
    assert _entered(journey) == ["Ada"]
    assert [data for _type, data in sent(wanted)] == [
        {"response": detractor.pk, "customer": detractor.customer_id, "score": 6, "at": AT_UTC}
    ]


def test_a_missed_activation_starts_its_journey(clock, settings):
    settings.RELAY_ACTIVATION_WINDOW_HOURS = 72
    journey = live_journey(WAIT, trigger={"type": "activation.missed"})
    record(emailable("Ada"), "signed_up", external_id="s1")
    record(emailable("Bo"), "signed_up", external_id="s2")
    record(emailable("Bo", email="bo2@example.com"), "activated", external_id="a1")
    assert marketing_services.raise_missed_activations(now=NOW + timedelta(hours=71)) == 0
    assert marketing_services.raise_missed_activations(now=NOW + timedelta(hours=72)) == 2
    assert _entered(journey) == ["Ada", "Bo"]  # the second Bo is another customer, who never signed up


def test_a_tier_change_starts_its_journey(clock):
    """Tiers arrive with the loyalty issue; its `tier.changed` (customer, tier) already starts journeys."""
    gold = live_journey(WAIT, trigger={"type": "tier.changed", "tier": "gold"})
    customer = CustomerFactory(name="Ada")
    events.publish("tier.changed", customer=customer.pk, tier="silver", at=timezone.now())
    events.publish("tier.changed", customer=customer.pk, tier="gold", at=timezone.now())
    assert _entered(gold) == ["Ada"]


def test_a_tag_on_a_lead_starts_its_journey(clock):
    tagged = live_journey(WAIT, trigger={"type": "lead.tagged", "tag": "Webinar"})
    marketer = make_user("marketing")
    lead = lead_through("new", marketer=marketer, customer=CustomerFactory(name="Ada"))
    lead_services.update_lead(lead=lead, by=marketer, tags=["webinar", "spring"])
    lead_services.update_lead(lead=lead, by=marketer, tags=["webinar"])  # kept, not added again
    assert _entered(tagged) == ["Ada"]


def test_draft_and_paused_journeys_enrol_no_one(clock, django_capture_on_commit_callbacks):
    manager = make_user("marketing_manager")
    paused = live_journey(WAIT, manager=manager)
    journeys.pause_journey(journey=paused, by=manager)
    journeys.create_journey(by=make_user("marketing"), name="Draft", trigger={"type": "signed_up"}, steps=WAIT)
    with committing(django_capture_on_commit_callbacks):
        record(emailable(), "signed_up", external_id="s1")
    assert not Enrolment.objects.exists()
    paused.refresh_from_db()
    assert paused.status == JourneyStatus.PAUSED
