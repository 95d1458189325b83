"""The lead page draws an action's button exactly when the service would take it (leads.stages.ACTION_STAGES)."""

import pytest
from django.db import transaction

from leads import permissions, selectors, services
from leads.errors import InvalidTransition, PoolConflict
from leads.models import Lead
from leads.stages import ACTION_STAGES, MOVABLE, Stage
from tests.factories import lead_through, make_user

pytestmark = pytest.mark.django_db


def _take(action: str, lead: Lead, by, seller) -> None:
    if action == "handoff":
        services.handoff_lead(lead=lead, by=by, assignee=seller)
    elif action == "accept":
        services.accept_lead(lead=lead, by=by)
    elif action == "claim":
        services.claim_lead(lead=lead, by=seller)
    elif action == "reject":
        services.reject_lead(lead=lead, by=by, reason="no_budget")
    elif action == "assign":
        services.assign_lead(lead=lead, by=by, owner=seller)
    elif action == "flag_high_intent":
        services.flag_high_intent(lead=lead, by=by)
    elif action == "move":
        to = Stage.NEGOTIATION if lead.stage != Stage.NEGOTIATION else Stage.PROPOSAL
        services.move_lead(lead=lead, by=by, stage=to)
    elif action == "close":
        services.close_lead(lead=lead, by=by, outcome=Stage.LOST, reason="price")
    elif action == "next_step":
        services.set_next_step(lead=lead, by=by, title="Call back")
    else:
        raise AssertionError(action)


def _service_takes(action: str, lead: Lead, by, seller) -> bool:
    with transaction.atomic():
        try:
            _take(action, lead, by, seller)
            return True
        except (InvalidTransition, PoolConflict):
            return False
        finally:
            transaction.set_rollback(True)


def test_every_table_action_is_a_permission_action():
    assert set(ACTION_STAGES) <= set(permissions.ACTIONS)


@pytest.mark.parametrize(
    ("stage", "pool"),
    [(Stage.NEW, False), (Stage.HANDED_OFF, False), (Stage.HANDED_OFF, True), *((s, False) for s in MOVABLE)]
    + [(Stage.ACCEPTED, False), (Stage.WON, False), (Stage.LOST, False)],
)
def test_buttons_and_services_agree_in_every_stage(stage, pool):
    admin, seller = make_user("admin"), make_user("sales")
    lead = lead_through(stage, pool=pool)
    drawn = selectors.allowed_actions(admin, Lead.objects.get(pk=lead.pk))
    for action in ACTION_STAGES:
        fresh = Lead.objects.get(pk=lead.pk)
        assert (action in drawn) == _service_takes(action, fresh, admin, seller), (stage, pool, action)
