"""Bulk actions on the lead list: marketing hands off, a sales manager assigns, the leads ticked (or every lead on
the page) in one transaction; each lead checked as its own page checks it, a refused lead left untouched and
reported with the reason."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from leads.models import Activity, Lead, LeadStageChange
from leads.stages import Stage
from tests.conftest import ROLES
from tests.factories import CustomerIdentityFactory, LeadFactory, lead_through, make_user

pytestmark = pytest.mark.django_db
URL = reverse("leads:lead-bulk")
LIST = reverse("leads:lead-list")


def _ready(marketer, **kwargs) -> Lead:
    """A new lead `marketer` created, with everything a handoff needs (a contact method, a source channel)."""
    lead = LeadFactory(created_by=marketer, **kwargs)
    CustomerIdentityFactory(customer=lead.customer)
    return lead


def _post(client, action: str, leads, **data):
    return client.post(URL, {"action": action, "lead": [lead.pk for lead in leads], **data})


def test_a_mixed_handoff_reports_each_refusal_and_hands_off_the_rest(client_as):
    client = client_as("marketing")
    marketer, seller = client.user, make_user("sales")
    good = [_ready(marketer) for _ in range(3)]
    no_channel = LeadFactory(created_by=marketer, source_channel=None)  # the handoff needs a source channel
    handed = lead_through(Stage.HANDED_OFF, marketer=marketer)  # not new any more: the state machine refuses
    not_theirs = _ready(make_user("marketing"))  # another marketer's lead: the role refuses
    before = {lead.pk: lead.updated_at for lead in (no_channel, handed, not_theirs)}

    response = _post(client, "handoff", [*good, no_channel, handed, not_theirs], assignee=seller.pk)

    assert response.status_code == 200
    assert response.context["done_count"] == 3
    assert "3 leads handed off." in response.content.decode()
    refused = {row["pk"]: row["reason"] for row in response.context["refused"]}
    assert set(refused) == {no_channel.pk, handed.pk, not_theirs.pk}
    assert "source channel" in refused[no_channel.pk]
    assert refused[not_theirs.pk] == "Your role does not allow this action on this lead."
    assert refused[handed.pk]  # the state machine's own message
    assert response.content.decode().count('data-testid="refused"') == 3
    for lead in good:
        lead.refresh_from_db()
        assert (lead.stage, lead.owner_id) == (Stage.HANDED_OFF, seller.pk)
    # The refused leads are exactly as they were: no stage change, no save.
    for pk, updated_at in before.items():
        assert Lead.objects.get(pk=pk).updated_at == updated_at
    assert not LeadStageChange.objects.filter(lead_id__in=[no_channel.pk, not_theirs.pk], to_stage=Stage.HANDED_OFF)


def test_a_handoff_without_an_assignee_goes_to_the_pool_and_all_done_returns_to_the_list(client_as):
    client = client_as("marketing")
    leads = [_ready(client.user) for _ in range(2)]
    response = client.post(URL, {"action": "handoff", "lead": [lead.pk for lead in leads], "back": "stage=new"})
    assert response.status_code == 302
    assert response["Location"] == f"{LIST}?stage=new"
    assert all(lead.in_pool for lead in Lead.objects.filter(pk__in=[lead.pk for lead in leads]))
    messages = [str(m) for m in client.get(response["Location"]).context["messages"]]
    assert messages == ["2 leads handed off."]


def test_every_lead_on_the_page_is_acted_on_when_that_box_is_ticked(client_as):
    client = client_as("marketing")
    leads = [_ready(client.user) for _ in range(3)]
    data = {"action": "handoff", "all_on_page": "on", "on_page": [lead.pk for lead in leads], "lead": [leads[0].pk]}
    assert client.post(URL, data).status_code == 302
    assert Lead.objects.filter(stage=Stage.HANDED_OFF).count() == 3


def test_a_sales_manager_assigns_open_sales_leads_and_the_others_are_refused(client_as):
    client = client_as("sales_manager")
    seller = make_user("sales")
    pooled = lead_through(Stage.HANDED_OFF, pool=True)
    working = lead_through(Stage.CONTACTED)
    new = LeadFactory()  # marketing's still: only open sales leads can be assigned
    won = lead_through(Stage.WON)
    response = _post(client, "assign", [pooled, working, new, won], owner=seller.pk)
    assert response.status_code == 200
    assert {row["pk"] for row in response.context["refused"]} == {new.pk, won.pk}
    assert set(Lead.objects.filter(owner=seller).values_list("pk", flat=True)) == {pooled.pk, working.pk}
    assert Activity.objects.filter(lead__in=[pooled, working], body__startswith="Assigned to").count() == 2
    assert not Activity.objects.filter(lead__in=[new, won]).exists()


@pytest.mark.parametrize("role", ROLES)
def test_bulk_handoff_per_role(client_as, role):
    client = client_as(role)
    lead = _ready(client.user if role == "marketing" else make_user("marketing"))
    response = _post(client, "handoff", [lead])
    may = role in ("marketing", "marketing_manager", "admin")
    assert response.status_code == (302 if may else 403)
    lead.refresh_from_db()
    assert lead.stage == (Stage.HANDED_OFF if may else Stage.NEW)


@pytest.mark.parametrize("role", ROLES)
def test_bulk_assign_per_role(client_as, role):
    client = client_as(role)
    lead, seller = lead_through(Stage.HANDED_OFF, pool=True), make_user("sales")
    response = _post(client, "assign", [lead], owner=seller.pk)
    may = role in ("sales_manager", "admin")
    assert response.status_code == (302 if may else 403)
    lead.refresh_from_db()
    assert (lead.owner_id == seller.pk) is may


@pytest.mark.parametrize("role", ROLES)
def test_the_list_offers_only_the_bulk_actions_the_role_may_take(client_as, role):
    html = client_as(role).get(LIST).content.decode()
    handoff = 'name="action" value="handoff"' in html
    assign = 'name="action" value="assign"' in html
    assert handoff is (role in ("marketing", "marketing_manager", "admin"))
    assert assign is (role in ("sales_manager", "admin"))
    assert ('form="lead-bulk"' in html) is (handoff or assign)


def test_anonymous_is_sent_to_log_in(client):
    response = client.post(URL, {"action": "handoff", "lead": [1]})
    assert response.status_code == 302 and "/login/" in response["Location"]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"action": "handoff"}, "lead"),  # nothing ticked
        ({"action": "assign", "lead": ["1"]}, "owner"),  # whom to?
        ({"action": "handoff", "lead": ["x"]}, "lead"),
        ({"action": "burn", "lead": ["1"]}, "action"),
    ],
)
def test_a_bad_form_is_422_naming_the_field_and_changes_nothing(client_as, data, field):
    client = client_as("admin")
    lead = _ready(make_user("marketing"))
    response = client.post(URL, data)
    assert response.status_code == 422
    assert f'data-field="{field}"' in response.content.decode()
    lead.refresh_from_db()
    assert lead.stage == Stage.NEW


def test_an_assignee_outside_sales_refuses_every_lead(client_as):
    client = client_as("marketing")
    leads = [_ready(client.user) for _ in range(2)]
    response = _post(client, "handoff", leads, assignee=make_user("service").pk)
    # The picker only offers sales people: anyone else is not a valid choice of the form.
    assert response.status_code == 422
    assert not Lead.objects.filter(stage=Stage.HANDED_OFF).exists()


def _bulk_queries(client, leads, seller) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = _post(client, "handoff", leads, assignee=seller.pk)
    assert response.status_code == 302
    return len(queries.captured_queries)


def test_bulk_handoff_costs_a_constant_per_lead(client_as):
    """1 lead, then 20: the queries grow by the same handful per lead (the single handoff's own), never by a
    query that reads the whole batch again per lead."""
    client = client_as("marketing")
    seller = make_user("sales")
    _bulk_queries(client, [_ready(client.user)], seller)  # warm per-process caches
    one = _bulk_queries(client, [_ready(client.user)], seller)
    twenty = _bulk_queries(client, [_ready(client.user) for _ in range(20)], seller)
    # At most the single handoff's own budget per further lead (tests/leads/test_queries.py: 13).
    assert twenty - one <= 19 * 13, (one, twenty)
