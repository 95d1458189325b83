"""Activities in the API: a lead's (`leads/{id}/activities/`, GET beside POST) and everyone's (`activities/`), with
filters, newest first, cursor pages and a fixed number of queries."""

from datetime import timedelta

import pytest
from django.utils import timezone

from leads import services
from leads.stages import Stage
from tests.conftest import ROLES
from tests.factories import ActivityFactory, LeadFactory, lead_through, make_user

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def _ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def test_a_leads_activities_newest_first_and_posting_one(api_as):
    seller = make_user("sales")
    lead = lead_through(Stage.ACCEPTED, owner=seller)
    api = api_as(user=seller)
    old = ActivityFactory(lead=lead, at=NOW - timedelta(days=2))
    ActivityFactory(lead=LeadFactory())  # another lead's
    posted = api.post(f"/api/v1/leads/{lead.pk}/activities/", {"kind": "call", "body": "Reached her"}, format="json")
    assert posted.status_code == 201
    listed = api.get(f"/api/v1/leads/{lead.pk}/activities/")
    assert _ids(listed) == [posted.json()["id"], old.pk]
    assert listed.json()["results"][0] == {**posted.json(), "by": seller.pk, "lead": lead.pk}
    assert api.get("/api/v1/leads/987654/activities/").status_code == 404


def test_every_activity_with_filters(api_as):
    api = api_as("marketing")
    one, two = LeadFactory(), LeadFactory()
    caller = make_user("sales")
    call = ActivityFactory(lead=one, kind="call", by=caller, at=NOW - timedelta(hours=1))
    note = ActivityFactory(lead=one, kind="note", at=NOW - timedelta(days=3))
    meeting = ActivityFactory(lead=two, kind="meeting", by=caller, at=NOW - timedelta(days=1))
    url = "/api/v1/activities/"
    assert _ids(api.get(url)) == [call.pk, meeting.pk, note.pk]
    assert _ids(api.get(url, {"lead": one.pk})) == [call.pk, note.pk]
    assert _ids(api.get(url, {"kind": "meeting"})) == [meeting.pk]
    assert _ids(api.get(url, {"by": caller.pk})) == [call.pk, meeting.pk]
    window = {"at_after": (NOW - timedelta(days=2)).isoformat(), "at_before": NOW.isoformat()}
    assert _ids(api.get(url, window)) == [call.pk, meeting.pk]
    assert api.get(f"{url}{note.pk}/").json()["kind"] == "note"
    for bad in ({"lead": "x"}, {"kind": "fax"}, {"at_after": "yesterday"}, {"by": "1.5"}):
        response = api.get(url, bad)
        assert response.status_code == 400 and response.json()["errors"][0]["field"] == next(iter(bad))


def test_pages_walk_every_activity_once(api_as):
    api = api_as("sales")
    lead = LeadFactory()
    for i in range(7):
        ActivityFactory(lead=lead, at=NOW - timedelta(hours=i % 3))  # ties on `at`
    for url in ("/api/v1/activities/?page_size=3", f"/api/v1/leads/{lead.pk}/activities/?page_size=3"):
        seen = []
        while url:
            body = api.get(url).json()
            seen += [row["id"] for row in body["results"]]
            url = body["next"]
        assert sorted(seen) == sorted(set(seen)) and len(seen) == 7


@pytest.mark.parametrize("n", [1, 30])
def test_the_lists_cost_the_same_whatever_their_length(api_as, django_assert_max_num_queries, n):
    api = api_as("service")
    lead = LeadFactory()
    for _ in range(n):
        ActivityFactory(lead=lead, by=make_user("sales"))
    with django_assert_max_num_queries(2):  # the page (and the user's groups)
        assert len(_ids(api.get("/api/v1/activities/"))) == n
    with django_assert_max_num_queries(3):  # the lead, its page
        assert len(_ids(api.get(f"/api/v1/leads/{lead.pk}/activities/"))) == n


@pytest.mark.parametrize("role", ROLES)
def test_every_role_reads_activities(api_as, role):
    lead = lead_through(Stage.CONTACTED)
    services.add_activity(lead=lead, by=lead.owner, kind="note", body="Met at the fair")
    api = api_as(role)
    assert len(_ids(api.get("/api/v1/activities/"))) == 1
    assert len(_ids(api.get(f"/api/v1/leads/{lead.pk}/activities/"))) == 1
