"""Every allowed and refused transition of the lead state machine, through the services and the API."""

import pytest
from django.core.exceptions import PermissionDenied

from leads import services
from leads.errors import InvalidTransition, LeadChanged
from leads.models import LeadStageChange
from leads.stages import MOVABLE, NEXT, PIPELINE, Stage
from tests.factories import lead_through, make_user

pytestmark = pytest.mark.django_db

ALL = list(Stage.values)


def test_next_table_matches_design():
    assert NEXT[Stage.NEW] == {Stage.HANDED_OFF}
    assert NEXT[Stage.HANDED_OFF] == {Stage.ACCEPTED, Stage.NEW}
    for stage in PIPELINE:
        # move (contacted..negotiation, not itself), close (won, lost), recycle (handed_off)
        assert NEXT[stage] == {*(s for s in MOVABLE if s != stage), Stage.WON, Stage.LOST, Stage.HANDED_OFF}
    assert NEXT[Stage.WON] == frozenset()
    assert NEXT[Stage.LOST] == frozenset()


def _history(lead):
    return list(LeadStageChange.objects.filter(lead=lead).values_list("from_stage", "to_stage", "by"))


def test_happy_path_records_every_step():
    marketer, seller = make_user("marketing"), make_user("sales")
    lead = lead_through(Stage.NEW, marketer=marketer)
    lead = services.handoff_lead(lead=lead, by=marketer, assignee=seller)
    lead = services.accept_lead(lead=lead, by=seller)
    for stage in (Stage.CONTACTED, Stage.QUALIFIED, Stage.PROPOSAL, Stage.NEGOTIATION):
        lead = services.move_lead(lead=lead, by=seller, stage=stage)
    lead = services.close_lead(lead=lead, by=seller, outcome=Stage.WON, amount="990.00")
    assert lead.stage == Stage.WON and lead.closed_at is not None
    assert [(f, t) for f, t, _by in _history(lead)] == [
        ("", "new"),
        ("new", "handed_off"),
        ("handed_off", "accepted"),
        ("accepted", "contacted"),
        ("contacted", "qualified"),
        ("qualified", "proposal"),
        ("proposal", "negotiation"),
        ("negotiation", "won"),
    ]
    assert {by for *_x, by in _history(lead)[2:]} == {seller.pk}


@pytest.mark.parametrize("start", [Stage.ACCEPTED, *MOVABLE])
@pytest.mark.parametrize("target", ALL)
def test_move_from_every_pipeline_stage(start, target):
    seller = make_user("sales")
    lead = lead_through(start, owner=seller)
    before = _history(lead)
    if target in MOVABLE and target != start:
        lead = services.move_lead(lead=lead, by=seller, stage=target)
        assert lead.stage == target
        assert _history(lead)[-1][:2] == (start, target)
    else:
        with pytest.raises(InvalidTransition):
            services.move_lead(lead=lead, by=seller, stage=target)
        lead.refresh_from_db()
        assert lead.stage == start and _history(lead) == before


@pytest.mark.parametrize("start", [Stage.NEW, Stage.HANDED_OFF, Stage.WON, Stage.LOST])
@pytest.mark.parametrize("target", MOVABLE)
def test_move_refused_outside_the_pipeline(start, target):
    seller = make_user("sales_manager")
    lead = lead_through(start)
    with pytest.raises(InvalidTransition):
        services.move_lead(lead=lead, by=seller, stage=target)
    lead.refresh_from_db()
    assert lead.stage == start


@pytest.mark.parametrize("start", ALL)
def test_handoff_only_from_new(start):
    marketer = make_user("marketing_manager")
    lead = lead_through(start)
    count = LeadStageChange.objects.filter(lead=lead).count()
    if start == Stage.NEW:
        assert services.handoff_lead(lead=lead, by=marketer).stage == Stage.HANDED_OFF
    else:
        with pytest.raises(InvalidTransition):
            services.handoff_lead(lead=lead, by=marketer)
        assert LeadStageChange.objects.filter(lead=lead).count() == count


@pytest.mark.parametrize("start", ALL)
def test_accept_and_reject_only_from_handed_off(start):
    manager = make_user("sales_manager")
    lead = lead_through(start)
    if start == Stage.HANDED_OFF:
        assert services.accept_lead(lead=lead, by=manager).stage == Stage.ACCEPTED
        return
    with pytest.raises(InvalidTransition):
        services.accept_lead(lead=lead, by=manager)
    with pytest.raises(InvalidTransition):
        services.reject_lead(lead=lead, by=manager, reason="no_budget")
    lead.refresh_from_db()
    assert lead.stage == start


def test_reject_goes_back_to_marketing_and_may_be_handed_off_again():
    marketer, seller = make_user("marketing"), make_user("sales")
    lead = lead_through(Stage.HANDED_OFF, marketer=marketer, owner=seller)
    lead = services.reject_lead(lead=lead, by=seller, reason="no_budget")
    assert (lead.stage, lead.owner, lead.reject_reason) == (Stage.NEW, None, "no_budget")
    assert LeadStageChange.objects.filter(lead=lead).last().reason == "no_budget"
    lead = services.handoff_lead(lead=lead, by=marketer, assignee=seller)
    assert lead.stage == Stage.HANDED_OFF


@pytest.mark.parametrize("start", ALL)
@pytest.mark.parametrize("outcome", [Stage.WON, Stage.LOST])
def test_close_only_from_accepted_on(start, outcome):
    manager = make_user("sales_manager")
    lead = lead_through(start)
    kwargs = {"amount": "10.00"} if outcome == Stage.WON else {"reason": "price"}
    if start in PIPELINE:
        assert services.close_lead(lead=lead, by=manager, outcome=outcome, **kwargs).stage == outcome
    else:
        with pytest.raises(InvalidTransition):
            services.close_lead(lead=lead, by=manager, outcome=outcome, **kwargs)
        lead.refresh_from_db()
        assert lead.stage == start


def test_a_stale_expected_stage_is_refused_as_lead_changed():
    seller = make_user("sales")
    lead = lead_through(Stage.CONTACTED, owner=seller)
    services.move_lead(lead=lead, by=seller, stage=Stage.PROPOSAL)
    with pytest.raises(LeadChanged):
        services.move_lead(lead=lead, by=seller, stage=Stage.QUALIFIED)  # `lead` still says contacted
    lead.refresh_from_db()
    assert lead.stage == Stage.PROPOSAL


def test_permission_is_checked_before_anything_changes():
    lead = lead_through(Stage.ACCEPTED)
    with pytest.raises(PermissionDenied):
        services.move_lead(lead=lead, by=make_user("sales"), stage=Stage.CONTACTED)
    lead.refresh_from_db()
    assert lead.stage == Stage.ACCEPTED


# --- the same through the API ---------------------------------------------------------------------------------


def test_api_second_accept_is_409_and_writes_once(api_as):
    seller = make_user("sales")
    lead = lead_through(Stage.HANDED_OFF, owner=seller)
    api = api_as(user=seller)
    first = api.post(f"/api/v1/leads/{lead.pk}/accept/", {}, format="json")
    assert first.status_code == 200 and first.json()["stage"] == "accepted"
    second = api.post(f"/api/v1/leads/{lead.pk}/accept/", {}, format="json")
    assert (second.status_code, second.json()["code"]) == (409, "invalid_transition")
    assert second["Content-Type"].startswith("application/problem+json")
    assert LeadStageChange.objects.filter(lead=lead, to_stage=Stage.ACCEPTED).count() == 1


@pytest.mark.parametrize(
    ("start", "path", "payload"),
    [
        (Stage.NEW, "accept", {}),
        (Stage.NEW, "move", {"stage": "contacted"}),
        (Stage.HANDED_OFF, "move", {"stage": "contacted"}),
        (Stage.HANDED_OFF, "close", {"outcome": "won", "amount": "5.00"}),
        (Stage.ACCEPTED, "move", {"stage": "won"}),
        (Stage.ACCEPTED, "move", {"stage": "handed_off"}),
        (Stage.ACCEPTED, "move", {"stage": "accepted"}),
        (Stage.ACCEPTED, "reject", {"reason": "no_need"}),
        (Stage.WON, "move", {"stage": "negotiation"}),
        (Stage.WON, "close", {"outcome": "lost", "reason": "price"}),
        (Stage.LOST, "close", {"outcome": "won", "amount": "5.00"}),
        (Stage.ACCEPTED, "handoff", {"assignee": None}),
    ],
)
def test_api_invalid_transitions_are_409(api_as, start, path, payload):
    lead = lead_through(start)
    api = api_as("admin")
    before = LeadStageChange.objects.filter(lead=lead).count()
    response = api.post(f"/api/v1/leads/{lead.pk}/{path}/", payload, format="json")
    assert response.status_code == 409, response.json()
    assert response.json()["code"] == "invalid_transition"
    assert response.json()["errors"][0]["field"] == "stage"
    lead.refresh_from_db()
    assert lead.stage == start
    assert LeadStageChange.objects.filter(lead=lead).count() == before


def test_api_move_close_and_history(api_as, django_capture_on_commit_callbacks):
    seller = make_user("sales")
    lead = lead_through(Stage.ACCEPTED, owner=seller)
    api = api_as(user=seller)
    assert (
        api.post(f"/api/v1/leads/{lead.pk}/move/", {"stage": "proposal"}, format="json").json()["stage"] == "proposal"
    )
    assert api.post(f"/api/v1/leads/{lead.pk}/move/", {"stage": "contacted"}, format="json").json()["stage"] == (
        "contacted"
    )
    with django_capture_on_commit_callbacks(execute=True):
        closed = api.post(f"/api/v1/leads/{lead.pk}/close/", {"outcome": "lost", "reason": "competitor"}, format="json")
    assert closed.status_code == 200 and closed.json()["lost_reason"] == "competitor"
    history = api.get(f"/api/v1/leads/{lead.pk}/history/").json()
    assert [(h["from_stage"], h["to_stage"]) for h in history["results"]] == [
        ("", "new"),
        ("new", "handed_off"),
        ("handed_off", "accepted"),
        ("accepted", "proposal"),
        ("proposal", "contacted"),
        ("contacted", "lost"),
    ]
    assert history["results"][-1]["by"] == seller.pk
    assert set(history["results"][0]) >= {"from_stage", "to_stage", "at", "by"}


def test_api_bad_input_names_the_field(api_as):
    seller = make_user("sales")
    lead = lead_through(Stage.ACCEPTED, owner=seller)
    api = api_as(user=seller)
    bad_stage = api.post(f"/api/v1/leads/{lead.pk}/move/", {"stage": "nowhere"}, format="json")
    assert bad_stage.status_code == 400 and bad_stage.json()["errors"][0]["field"] == "stage"
    no_amount = api.post(f"/api/v1/leads/{lead.pk}/close/", {"outcome": "won"}, format="json")
    assert no_amount.status_code == 400 and no_amount.json()["errors"][0]["field"] == "amount"
    other = api.post(f"/api/v1/leads/{lead.pk}/close/", {"outcome": "lost", "reason": "other"}, format="json")
    assert other.status_code == 400 and other.json()["errors"][0]["field"] == "reason_text"
    lead.refresh_from_db()
    assert lead.stage == Stage.ACCEPTED


def test_each_transition_is_published_to_webhooks():
    from config.models import WebhookDelivery, WebhookEndpoint
    from config.webhooks import new_secret

    WebhookEndpoint.objects.create(
        url="https://example.com/hook", secret=new_secret(), event_types=["lead.stage_changed"]
    )
    seller = make_user("sales")
    lead = lead_through(Stage.HANDED_OFF, owner=seller)
    with pytest.raises(InvalidTransition):
        services.move_lead(lead=lead, by=seller, stage=Stage.CONTACTED)
    services.accept_lead(lead=lead, by=seller)
    payloads = [d.payload["data"] for d in WebhookDelivery.objects.order_by("pk")]
    assert [(p["from_stage"], p["to_stage"]) for p in payloads] == [("new", "handed_off"), ("handed_off", "accepted")]
    assert payloads[-1]["lead"] == lead.pk and payloads[-1]["by"] == seller.pk
