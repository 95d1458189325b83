"""The lead pool: claim (= accept, first wins), recycling after silence, reclaim cooldown, manager assignment."""

from datetime import timedelta
from functools import partial

import pytest
from django.test import override_settings
from django.utils import timezone

from leads import services, tasks
from leads.errors import LeadChanged, PoolConflict
from leads.models import Lead, LeadStageChange
from leads.stages import Stage
from tests.factories import lead_through, make_user
from tests.races import at_once


@pytest.mark.django_db
def test_claim_is_accept_and_second_claim_is_refused(api_as):
    lead = lead_through(Stage.HANDED_OFF, pool=True)
    first, second = make_user("sales"), make_user("sales")
    ok = api_as(user=first).post(f"/api/v1/leads/{lead.pk}/claim/", {}, format="json")
    assert ok.status_code == 200 and ok.json()["owner"] == first.pk and ok.json()["stage"] == "accepted"
    late = api_as(user=second).post(f"/api/v1/leads/{lead.pk}/claim/", {}, format="json")
    assert late.status_code == 409 and late.json()["code"] == "invalid_transition"
    assert late.json()["detail"] == "This lead is not in the pool any more."
    assert LeadStageChange.objects.filter(lead=lead, to_stage=Stage.ACCEPTED).count() == 1


@pytest.mark.django_db
def test_an_owned_handoff_cannot_be_claimed():
    lead = lead_through(Stage.HANDED_OFF)
    with pytest.raises(PoolConflict):
        services.claim_lead(lead=lead, by=make_user("sales"))


@pytest.mark.django_db
def test_accept_on_a_pool_lead_says_claim_it():
    lead = lead_through(Stage.HANDED_OFF, pool=True)
    with pytest.raises(services.InvalidTransition):
        services.accept_lead(lead=lead, by=make_user("sales_manager"))


@pytest.mark.django_db
@override_settings(RELAY_LEAD_RECYCLE_DAYS=14, RELAY_LEAD_RECLAIM_COOLDOWN_HOURS=72)
def test_silent_leads_are_recycled_to_the_pool_and_the_former_owner_waits():
    owner = make_user("sales")
    long_ago = timezone.now() - timedelta(days=20)
    stale = lead_through(Stage.QUALIFIED, owner=owner, now=long_ago)
    fresh = lead_through(Stage.QUALIFIED, owner=owner)
    untouched_new = lead_through(Stage.HANDED_OFF, now=long_ago)

    assert tasks.recycle_stale_leads.delay().get() == 1
    assert services.recycle_stale_leads() == 0  # running again changes nothing

    stale.refresh_from_db()
    assert (stale.stage, stale.owner, stale.reclaim_blocked_user) == (Stage.HANDED_OFF, None, owner)
    change = stale.stage_changes.last()
    assert (change.from_stage, change.to_stage, change.by) == (Stage.QUALIFIED, Stage.HANDED_OFF, None)
    assert owner.notifications.filter(kind="leads.recycled").count() == 1
    fresh.refresh_from_db()
    untouched_new.refresh_from_db()
    assert fresh.stage == Stage.QUALIFIED and untouched_new.stage == Stage.HANDED_OFF

    with pytest.raises(PoolConflict):
        services.claim_lead(lead=stale, by=owner)
    later = timezone.now() + timedelta(hours=73)
    assert services.claim_lead(lead=stale, by=owner, now=later).owner == owner


@pytest.mark.django_db
@override_settings(RELAY_LEAD_RECYCLE_DAYS=14)
def test_activity_keeps_a_lead_from_recycling():
    owner = make_user("sales")
    lead = lead_through(Stage.PROPOSAL, owner=owner, now=timezone.now() - timedelta(days=20))
    services.add_activity(lead=lead, by=owner, kind="note", body="Still thinking")
    assert services.recycle_stale_leads() == 0


@pytest.mark.django_db
def test_another_seller_may_claim_a_recycled_lead_at_once():
    owner, other = make_user("sales"), make_user("sales")
    lead = lead_through(Stage.CONTACTED, owner=owner, now=timezone.now() - timedelta(days=30))
    services.recycle_stale_leads()
    assert services.claim_lead(lead=Lead.objects.get(pk=lead.pk), by=other).owner == other


@pytest.mark.django_db
def test_manager_assigns_from_the_pool_and_reassigns(api_as):
    manager, seller, other = make_user("sales_manager"), make_user("sales"), make_user("sales")
    lead = lead_through(Stage.HANDED_OFF, pool=True)
    api = api_as(user=manager)
    assigned = api.post(f"/api/v1/leads/{lead.pk}/assign/", {"owner": seller.pk}, format="json")
    assert assigned.status_code == 200 and assigned.json()["owner"] == seller.pk
    assert assigned.json()["stage"] == "handed_off"  # the assignee decides
    services.accept_lead(lead=Lead.objects.get(pk=lead.pk), by=seller)
    moved = api.post(f"/api/v1/leads/{lead.pk}/assign/", {"owner": other.pk}, format="json")
    assert moved.json()["owner"] == other.pk
    refused = api.post(f"/api/v1/leads/{lead.pk}/assign/", {"owner": make_user("marketing").pk}, format="json")
    assert refused.status_code == 400 and refused.json()["errors"][0]["field"] == "owner"
    assert (
        api_as(user=seller).post(f"/api/v1/leads/{lead.pk}/assign/", {"owner": seller.pk}, format="json").status_code
        == 403
    )


@pytest.mark.django_db
def test_pool_page_lists_and_claims(client_as):
    lead = lead_through(Stage.HANDED_OFF, pool=True)
    seller = make_user("sales")
    client = client_as(user=seller)
    assert f"/leads/{lead.pk}/" in client.get("/leads/pool/").content.decode()
    response = client.post(f"/leads/{lead.pk}/claim/", {"seen_stage": "handed_off", "next": "pool"})
    assert response.status_code == 302 and response["Location"] == "/leads/pool/"
    lead.refresh_from_db()
    assert lead.owner == seller


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_claims_one_wins():
    lead = lead_through(Stage.HANDED_OFF, pool=True)
    sellers = [make_user("sales") for _ in range(4)]
    claims = [partial(services.claim_lead, lead=Lead.objects.get(pk=lead.pk), by=seller) for seller in sellers]
    results = at_once(*claims)
    winners = [r for r in results if isinstance(r, Lead)]
    assert len(winners) == 1, results
    assert all(
        isinstance(r, LeadChanged | services.InvalidTransition | PoolConflict) for r in results if r not in winners
    )
    lead.refresh_from_db()
    assert lead.owner == winners[0].owner
    assert LeadStageChange.objects.filter(lead=lead, to_stage=Stage.ACCEPTED).count() == 1
