"""Permission matrix: role × action, in the API, the browser and the admin (DESIGN.md "Roles")."""

import pytest

from leads.models import Lead
from leads.stages import Stage
from tests.conftest import ROLES
from tests.factories import lead_through, make_user

pytestmark = pytest.mark.django_db

# action: (stage the lead is in, pool?, API payload, page form data, roles allowed on someone else's lead)
MATRIX = {
    "edit": (Stage.NEW, False, {"interest": "x"}, {"interest": "x"}, {"marketing_manager", "admin"}),
    "handoff": (Stage.NEW, False, {"assignee": None}, {"handoff-assignee": ""}, {"marketing_manager", "admin"}),
    "accept": (Stage.HANDED_OFF, False, {}, {}, {"sales_manager", "admin"}),
    "reject": (
        Stage.HANDED_OFF,
        False,
        {"reason": "no_need"},
        {"reject-reason": "no_need"},
        {"sales_manager", "admin"},
    ),
    "claim": (Stage.HANDED_OFF, True, {}, {}, {"sales", "sales_manager", "admin"}),
    "move": (Stage.ACCEPTED, False, {"stage": "qualified"}, {"move-stage": "qualified"}, {"sales_manager", "admin"}),
    "close": (
        Stage.CONTACTED,
        False,
        {"outcome": "lost", "reason": "price"},
        {"close-outcome": "lost", "close-reason": "price"},
        {"sales_manager", "admin"},
    ),
    "flag-high-intent": (Stage.CONTACTED, False, {}, {}, {"sales_manager", "admin"}),
    "assign": (Stage.HANDED_OFF, True, "OWNER", "OWNER", {"sales_manager", "admin"}),
}
PAGE_ACTION = {"flag-high-intent": "flag"}


def _lead(action):
    """A lead in the action's stage, created by another marketer and owned by another seller."""
    stage, pool, *_rest = MATRIX[action]
    return lead_through(stage, pool=pool)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", list(MATRIX))
def test_api_matrix(api_as, role, action):
    stage, _pool, payload, _form, allowed = MATRIX[action]
    lead = _lead(action)
    if payload == "OWNER":
        payload = {"owner": make_user("sales").pk}
    api = api_as(role)
    if action == "edit":
        response = api.patch(f"/api/v1/leads/{lead.pk}/", payload, format="json")
    else:
        response = api.post(f"/api/v1/leads/{lead.pk}/{action}/", payload, format="json")
    if role in allowed:
        assert response.status_code == 200, (role, action, response.json())
    else:
        assert response.status_code == 403, (role, action, response.json())
        assert response.json()["code"] == "permission_denied"
        assert Lead.objects.get(pk=lead.pk).stage == stage


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", list(MATRIX))
def test_browser_matrix(client_as, role, action):
    stage, _pool, _payload, form, allowed = MATRIX[action]
    lead = _lead(action)
    if form == "OWNER":
        form = {"assign-owner": make_user("sales").pk}
    client = client_as(role)
    if action == "edit":
        url = f"/leads/{lead.pk}/edit/"
        form = {**form, "source_channel": lead.source_channel_id}
    else:
        url = f"/leads/{lead.pk}/{PAGE_ACTION.get(action, action)}/"
    if action == "handoff":
        form = {**form, "handoff-source_channel": lead.source_channel_id}
    response = client.post(url, {"seen_stage": stage, **form})
    if role in allowed:
        assert response.status_code == 302, (role, action, response.content[:2000])
    else:
        assert response.status_code == 403, (role, action)
        assert "You are not allowed to do this" in response.content.decode()
        assert Lead.objects.get(pk=lead.pk).stage == stage


@pytest.mark.parametrize("role", ROLES)
def test_create_matrix(api_as, client_as, role):
    allowed = role in ("marketing", "marketing_manager", "admin")
    api = api_as(role)
    response = api.post("/api/v1/leads/", {"contact": {"name": "P", "phone": "13700000000"}}, format="json")
    assert response.status_code == (201 if allowed else 403)
    page = client_as(role).get("/leads/new/")
    assert page.status_code == (200 if allowed else 403)


@pytest.mark.parametrize("role", ROLES)
def test_everyone_reads(api_as, client_as, role):
    lead = lead_through(Stage.CONTACTED)
    assert api_as(role).get(f"/api/v1/leads/{lead.pk}/").status_code == 200
    client = client_as(role)
    for url in ("/leads/", "/leads/board/", f"/leads/{lead.pk}/", "/leads/queue/", "/leads/pool/"):
        assert client.get(url).status_code == 200, url


def test_owners_act_on_their_own_leads(api_as):
    marketer, seller = make_user("marketing"), make_user("sales")
    lead = lead_through(Stage.NEW, marketer=marketer)
    api = api_as(user=marketer)
    assert api.patch(f"/api/v1/leads/{lead.pk}/", {"interest": "y"}, format="json").status_code == 200
    assert api.post(f"/api/v1/leads/{lead.pk}/handoff/", {"assignee": seller.pk}, format="json").status_code == 200
    # After handoff marketing may not edit any more.
    assert api.patch(f"/api/v1/leads/{lead.pk}/", {"interest": "z"}, format="json").status_code == 403
    sales = api_as(user=seller)
    assert sales.post(f"/api/v1/leads/{lead.pk}/accept/", {}, format="json").status_code == 200
    assert sales.post(f"/api/v1/leads/{lead.pk}/move/", {"stage": "proposal"}, format="json").status_code == 200
    # Another seller may not touch it.
    other = api_as("sales")
    assert other.post(f"/api/v1/leads/{lead.pk}/move/", {"stage": "qualified"}, format="json").status_code == 403


def test_anonymous_and_outsiders_are_refused(client, api_as):
    lead = lead_through(Stage.NEW)
    assert client.get("/leads/").status_code == 302  # to the login page
    from rest_framework.test import APIClient

    assert APIClient().get(f"/api/v1/leads/{lead.pk}/").status_code in (401, 403)
    outsider = make_user("sales")
    outsider.groups.clear()
    api = api_as(user=outsider)
    assert api.get("/api/v1/leads/").status_code == 403


# --- the admin respects the same rules ----------------------------------------------------------------------


def test_admin_change_follows_can(client_as):
    marketer = make_user("marketing")
    lead = lead_through(Stage.NEW, marketer=marketer)
    url = f"/admin/leads/lead/{lead.pk}/change/"
    data = {
        "source_channel": lead.source_channel_id,
        "campaign": "",
        "tags": [],
        "interest": "From the admin",
        "note": "",
        "referred_by": "",
        "stage_changes-TOTAL_FORMS": "0",
        "stage_changes-INITIAL_FORMS": "0",
    }
    seller = client_as("sales")
    assert seller.post(url, data).status_code == 403
    lead.refresh_from_db()
    assert lead.interest != "From the admin"
    owner = client_as(user=marketer)
    response = owner.post(url, data)
    assert response.status_code == 302, response.content[:3000]
    lead.refresh_from_db()
    assert lead.interest == "From the admin"


def test_admin_history_is_read_only(client_as):
    lead = lead_through(Stage.ACCEPTED)
    change = lead.stage_changes.first()
    admin = client_as("admin")
    assert admin.get("/admin/leads/leadstagechange/").status_code == 200
    assert admin.post(f"/admin/leads/leadstagechange/{change.pk}/delete/", {"post": "yes"}).status_code == 403
    assert admin.get("/admin/leads/leadstagechange/add/").status_code == 403


@pytest.mark.parametrize("role", ["sales", "marketing", "service_manager"])
def test_admin_lists_for_every_department_but_edits_only_by_can(client_as, role):
    lead = lead_through(Stage.CONTACTED)
    client = client_as(role)
    assert client.get("/admin/leads/lead/").status_code == 200
    page = client.get(f"/admin/leads/lead/{lead.pk}/change/")
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()  # view only
    assert client.post(f"/admin/leads/lead/{lead.pk}/delete/", {"post": "yes"}).status_code == 403
