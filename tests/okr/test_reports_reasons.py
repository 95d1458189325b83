"""Reject and lost reasons: the `reject_reasons` and `lost_reasons` metrics (GET /api/v1/metrics/{name}/) and the
reasons report page, against a hand-computed fixture whose history is written through leads.services."""

import csv
import io
from datetime import date, timedelta

import pytest
from django.db import connection
from django.urls import reverse

from leads import services
from tests.conftest import ROLES
from tests.factories import (
    CampaignFactory,
    ChannelFactory,
    LeadFactory,
    LeadStageChangeFactory,
    UserFactory,
    lead_through,
    make_user,
)
from tests.okr.conftest import at

pytestmark = pytest.mark.django_db

START, END = date(2026, 2, 1), date(2026, 4, 1)  # February and March
PERIOD = {"start": START.isoformat(), "end": END.isoformat()}


def D(month, day):  # noqa: N802 - a short date helper for fixtures
    return date(2026, month, day)


@pytest.fixture
def people():
    return {
        "alice": make_user("sales", first_name="Alice", last_name="Tan"),
        "bob": make_user("sales", username="bob", first_name="", last_name=""),
    }


@pytest.fixture
def fixture(people):
    """Five rejections and four losses in February–March, one win, and decisions just outside the period."""
    web = ChannelFactory(code="web", name="Website")
    fair = ChannelFactory(code="fair", name="Trade fair")
    spring = CampaignFactory(name="Spring", channel=fair)
    alice, bob = people["alice"], people["bob"]

    def reject(when, by, reason, text="", channel=web, campaign=None):
        lead = lead_through(
            "handed_off", owner=by, source_channel=channel, campaign=campaign, now=when - timedelta(hours=5)
        )
        services.reject_lead(lead=lead, by=by, reason=reason, reason_text=text, now=when)

    def lose(when, owner, reason, text="", channel=web):
        lead = lead_through("contacted", owner=owner, source_channel=channel, now=when - timedelta(days=2))
        services.close_lead(lead=lead, by=owner, outcome="lost", reason=reason, reason_text=text, now=when)

    reject(at(D(2, 10)), alice, "no_budget")
    reject(at(D(3, 5)), alice, "no_budget", "Too small for now")
    reject(at(D(3, 6)), bob, "duplicate", channel=fair, campaign=spring)
    reject(at(D(3, 20)), bob, "no_budget")
    reject(at(D(3, 31), 23, 59), alice, "other", "Moved abroad", channel=fair)  # local time: still March
    reject(at(END), alice, "no_need")  # the end is exclusive
    reject(at(D(1, 31), 23, 59), bob, "wrong_contact")  # before the start
    lead_through("accepted", owner=alice, source_channel=web, now=at(D(3, 7)))  # accepted: no rejection

    lose(at(D(3, 2)), alice, "price")
    lose(at(D(3, 3)), bob, "competitor")
    lose(at(D(3, 15)), bob, "price", "Too expensive", channel=fair)
    lose(at(D(2, 20)), alice, "price")
    lose(at(END), bob, "timing")  # after the period
    lead_through("won", owner=alice, source_channel=web, now=at(D(3, 10)))
    return {"web": web, "fair": fair, "spring": spring, **people}


def test_reject_reasons_count_share_month_channel_and_person(metric, fixture):
    body = metric("reject_reasons", START, END)
    alice, bob = fixture["alice"], fixture["bob"]
    assert (body["value"], body["sample_size"]) == (5, 5)
    # Most frequent first; the tie keeps the fixed list's order (duplicate before other).
    assert body["by_reason"] == [
        {"reason": "no_budget", "label": "No budget", "count": 3, "share": 0.6},
        {"reason": "duplicate", "label": "Duplicate", "count": 1, "share": 0.2},
        {"reason": "other", "label": "Other", "count": 1, "share": 0.2},
    ]

    def cells(no_budget, duplicate, other):
        return [
            {"reason": "no_budget", "count": no_budget},
            {"reason": "duplicate", "count": duplicate},
            {"reason": "other", "count": other},
        ]

    assert body["by_month"] == [
        {"month": "2026-02", "count": 1, "reasons": cells(1, 0, 0)},
        {"month": "2026-03", "count": 4, "reasons": cells(2, 1, 1)},
    ]
    assert body["by_channel"] == [
        {"channel": "web", "name": "Website", "count": 3, "share": 0.6, "reasons": cells(3, 0, 0)},
        {"channel": "fair", "name": "Trade fair", "count": 2, "share": 0.4, "reasons": cells(0, 1, 1)},
    ]
    # A rejection counts for the person who sent it back (the lead's owner is cleared by it).
    assert body["by_owner"] == [
        {"owner": alice.pk, "name": "Alice Tan", "count": 3, "share": 0.6, "reasons": cells(2, 0, 1)},
        {"owner": bob.pk, "name": "bob", "count": 2, "share": 0.4, "reasons": cells(1, 1, 0)},
    ]


def test_lost_reasons_and_their_owners(metric, fixture):
    body = metric("lost_reasons", START, END)
    alice, bob = fixture["alice"], fixture["bob"]
    assert (body["value"], body["sample_size"]) == (4, 4)
    assert body["by_reason"] == [
        {"reason": "price", "label": "Price", "count": 3, "share": 0.75},
        {"reason": "competitor", "label": "Chose a competitor", "count": 1, "share": 0.25},
    ]
    assert [(m["month"], m["count"], [c["count"] for c in m["reasons"]]) for m in body["by_month"]] == [
        ("2026-02", 1, [1, 0]),
        ("2026-03", 3, [2, 1]),
    ]
    assert [(c["channel"], c["count"], c["share"]) for c in body["by_channel"]] == [("web", 3, 0.75), ("fair", 1, 0.25)]
    assert [(o["owner"], o["name"], o["count"], [c["count"] for c in o["reasons"]]) for o in body["by_owner"]] == [
        (alice.pk, "Alice Tan", 2, [2, 0]),  # a tie: by name
        (bob.pk, "bob", 2, [1, 1]),
    ]
    # The close rate over the same leads: 1 won, 4 lost.
    assert metric("close_rate", START, END)["lost"] == body["value"]


def test_reasons_follow_the_report_filters(metric, fixture):
    by_fair = metric("reject_reasons", START, END, channel="fair")
    assert by_fair["value"] == 2
    assert [(r["reason"], r["count"], r["share"]) for r in by_fair["by_reason"]] == [
        ("duplicate", 1, 0.5),
        ("other", 1, 0.5),
    ]
    assert metric("reject_reasons", START, END, owner=fixture["bob"].pk)["value"] == 2
    assert metric("reject_reasons", START, END, campaign=fixture["spring"].pk)["by_reason"] == [
        {"reason": "duplicate", "label": "Duplicate", "count": 1, "share": 1.0}
    ]
    assert metric("reject_reasons", START, END, department="sales")["value"] == 5
    assert metric("lost_reasons", START, END, owner=fixture["alice"].pk)["value"] == 2
    assert metric("lost_reasons", START, END, channel="fair")["by_owner"][0]["name"] == "bob"


def test_no_decisions_is_null_not_zero(metric, fixture):
    body = metric("reject_reasons", START, END, department="marketing")
    assert (body["value"], body["by_reason"], body["by_channel"], body["by_owner"]) == (None, [], [], [])
    assert [m["count"] for m in body["by_month"]] == [0, 0]


def test_a_change_without_a_reason_code_reads_not_recorded(metric):
    LeadStageChangeFactory(lead=LeadFactory(), from_stage="handed_off", to_stage="new", at=at(D(3, 1)), reason="")
    body = metric("reject_reasons", START, END)
    assert body["by_reason"] == [{"reason": "unknown", "label": "Not recorded", "count": 1, "share": 1.0}]


def test_the_page_shows_counts_shares_breakdowns_and_charts(client_as, fixture):
    response = client_as("marketing").get(reverse("okr:report-reasons"), PERIOD)
    assert response.status_code == 200
    html = response.content.decode()
    reject = html.split('id="reject-reasons"', 1)[1].split("</section>", 1)[0]
    lost = html.split('id="lost-reasons"', 1)[1].split("</section>", 1)[0]
    assert '<strong data-testid="total">5</strong>' in reject
    assert (
        '<tr data-reason="no_budget"><td>No budget</td><td class="num">3</td><td class="num">60 %</td></tr>' in reject
    )
    assert "Alice Tan" in reject and "Trade fair" in reject
    assert '<svg class="chart hbars"' in reject and '<svg class="chart stacked"' in reject
    assert "<title>No budget: 3 · 60 %</title>" in reject  # the tooltip gives the exact figures
    assert "based on 5 handoffs — too few to rely on" in reject
    assert '<strong data-testid="close-rate">20 %</strong>' in lost
    assert "based on 4 leads — too few to rely on" in lost
    assert "Close rate: based on 5 leads — too few to rely on" in lost


def test_the_page_filters_by_channel_owner_and_campaign(client_as, fixture):
    client = client_as("sales")
    html = client.get(reverse("okr:report-reasons"), {**PERIOD, "owner": fixture["bob"].pk}).content.decode()
    assert '<strong data-testid="total">2</strong>' in html.split('id="reject-reasons"', 1)[1]
    html = client.get(reverse("okr:report-reasons"), {**PERIOD, "campaign": fixture["spring"].pk}).content.decode()
    assert '<strong data-testid="total">1</strong>' in html.split('id="reject-reasons"', 1)[1]
    html = client.get(reverse("okr:report-reasons"), {**PERIOD, "channel": "fair"}).content.decode()
    assert '<strong data-testid="total">2</strong>' in html.split('id="reject-reasons"', 1)[1]
    assert '<option value="fair" selected>Trade fair</option>' in html  # the channel picked by name


def test_an_unknown_channel_or_a_bad_owner_is_400_naming_the_field(client_as):
    client = client_as("sales")
    response = client.get(reverse("okr:report-reasons"), {**PERIOD, "channel": "nope"})
    assert response.status_code == 400 and 'data-field="channel"' in response.content.decode()
    response = client.get(reverse("okr:report-reasons"), {**PERIOD, "owner": "abc"})
    assert response.status_code == 400 and 'data-field="owner"' in response.content.decode()


def test_csv_export(client_as, fixture):
    response = client_as("service").get(reverse("okr:report-reasons"), {**PERIOD, "format": "csv"})
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["kind", "breakdown", "key", "name", "reason", "count"]
    assert ["reject", "reason", "no_budget", "No budget", "no_budget", "3"] in rows
    assert ["reject", "month", "2026-03", "2026-03", "other", "1"] in rows
    assert ["lost", "channel", "fair", "Trade fair", "price", "1"] in rows
    assert ["lost", "owner", str(fixture["bob"].pk), "bob", "competitor", "1"] in rows


@pytest.mark.parametrize("role", ROLES)
def test_every_role_reads_the_page_and_the_metrics(client_as, api_as, role):
    assert client_as(role).get(reverse("okr:report-reasons"), PERIOD).status_code == 200
    api = api_as(role)
    for name in ("reject_reasons", "lost_reasons"):
        assert api.get(f"/api/v1/metrics/{name}/", PERIOD).status_code == 200


def test_outsiders_are_refused(client, api_as):
    assert client.get(reverse("okr:report-reasons")).status_code == 302  # to the login page
    client.force_login(UserFactory())  # in no department
    assert client.get(reverse("okr:report-reasons")).status_code == 403
    assert client.get("/api/v1/metrics/reject_reasons/", PERIOD).status_code in (401, 403)


def _decisions(n: int):
    """n rejections and n losses in March, each by its own person and channel: the groups grow with n."""
    for i in range(n):
        seller = make_user("sales")
        channel = ChannelFactory()
        LeadStageChangeFactory(
            lead=LeadFactory(source_channel=channel),
            from_stage="handed_off",
            to_stage="new",
            at=at(D(3, 1 + i % 28)),
            reason=("no_budget", "duplicate: again", "other: text")[i % 3],
            by=seller,
        )
        LeadStageChangeFactory(
            lead=LeadFactory(source_channel=channel, owner=seller, stage="lost"),
            from_stage="contacted",
            to_stage="lost",
            at=at(D(3, 1 + i % 28)),
            reason=("price", "timing")[i % 2],
            by=seller,
        )


@pytest.mark.parametrize("n", [1, 25])
def test_page_queries_do_not_grow(client_as, django_assert_max_num_queries, n):
    _decisions(n)
    client = client_as("sales")
    # session, user, groups, unread notifications, the channel choices, rejections by month, channel and
    # person, the same for losses, the close rate; PostgreSQL adds SAVEPOINT, SET LOCAL and RELEASE.
    with django_assert_max_num_queries(12 + (3 if connection.vendor == "postgresql" else 0)):
        response = client.get(reverse("okr:report-reasons"), PERIOD)
    assert response.status_code == 200
    assert response.content.decode().count("<tr data-owner=") == 2 * n


@pytest.mark.parametrize("n", [1, 25])
def test_api_queries_do_not_grow(api_as, django_assert_max_num_queries, n):
    _decisions(n)
    api = api_as("sales")
    for name in ("reject_reasons", "lost_reasons"):
        # user's groups, the three breakdowns; PostgreSQL adds SAVEPOINT, SET LOCAL and RELEASE
        with django_assert_max_num_queries(4 + (3 if connection.vendor == "postgresql" else 0)):
            body = api.get(f"/api/v1/metrics/{name}/", PERIOD).json()
        assert len(body["by_owner"]) == n
