"""The quarterly process review (DESIGN.md "Everyday work"): GET /okr/reviews/<quarter>/ and
GET /api/v1/reviews/{quarter}/ against a hand-computed fixture, reviewed on 15 November 2026 (local time): 2026Q3
against 2026Q2. Findings and actions through the page and POST /api/v1/reviews/{quarter}/notes/."""

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import time_machine
from django.db import connection
from django.urls import reverse
from django.utils import translation

from config import todo
from config.models import Task, TaskKind
from leads import services as lead_services
from leads.models import Lead
from okr.models import ReviewNote
from tests.conftest import ROLES
from tests.factories import (
    ChannelFactory,
    ChannelSpendFactory,
    ComplaintFactory,
    CustomerFactory,
    InsightFactory,
    KeyResultFactory,
    LeadFactory,
    NpsResponseFactory,
    ObjectiveFactory,
    OrderFactory,
    TouchpointFactory,
    UserFactory,
    lead_through,
    make_user,
)
from tests.okr.conftest import at, history

pytestmark = pytest.mark.django_db

TODAY = date(2026, 11, 15)
URL = "/api/v1/reviews/2026Q3/"
PAGE = "/okr/reviews/2026Q3/"
MANAGERS = ["marketing_manager", "sales_manager", "service_manager", "admin"]
NON_MANAGERS = ["marketing", "sales", "service"]


def D(month, day):  # noqa: N802 - a short date helper for fixtures
    return date(2026, month, day)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(at(TODAY, 12), tick=False):
        yield


def _created(lead, day):
    Lead.objects.filter(pk=lead.pk).update(created_at=at(day, 9))


def _funnel_leads(day, furthest: dict[str, int], lost: int = 0):
    """Leads created on `day` with the furthest stage each reached; `lost` of the contacted ones were lost."""
    for stage, count in furthest.items():
        for index in range(count):
            is_lost = stage == "contacted" and index < lost
            _created(LeadFactory(stage="lost" if is_lost else stage, furthest_stage=stage), day)


def _won(handed_off, won, channel, amount=None, ordered=None):
    """A lead handed off and won at those times (its history), and an order of its customer."""
    lead = history(("new", "handed_off", handed_off), ("handed_off", "won", won), source_channel=channel)
    if amount is not None:
        OrderFactory(customer=lead.customer, amount=Decimal(amount), ordered_at=ordered or won)
    return lead


def _reject(when, reason):
    lead = lead_through("handed_off", now=when - timedelta(hours=3))
    lead_services.reject_lead(lead=lead, by=lead.owner, reason=reason, now=when)


def _lose(when, reason):
    lead = lead_through("contacted", now=when - timedelta(days=2))
    lead_services.close_lead(lead=lead, by=lead.owner, outcome="lost", reason=reason, now=when)


def _complaint(category, opened, first_due, responded, resolution_due, resolved):
    return ComplaintFactory(
        category=category,
        opened_at=opened,
        first_response_due_at=first_due,
        first_response_at=responded,
        resolution_due_at=resolution_due,
        resolved_at=resolved,
        status="resolved" if resolved else "open",
    )


def _nps(day, score, tags=()):
    response = NpsResponseFactory(score=score, answered_at=at(day, 10))
    for tag in tags:
        InsightFactory(nps_response=response, tag=tag)
    return response


@pytest.fixture
def fixture():
    web = ChannelFactory(code="web", name="Website")
    fair = ChannelFactory(code="fair", name="Trade fair")

    # Funnel. 2026Q3: 10 leads; reached new 10, handed_off 8, accepted 7, contacted 6, qualified 3, proposal 3,
    # negotiation 2, won 2 → the worst step is contacted → qualified (50 %). 2026Q2: 4 leads; reached 4, 3, 1, 1, 1,
    # 1, 1, 1 → its worst step is handed_off → accepted (66.7 %), and contacted → qualified lost none.
    _funnel_leads(
        D(8, 3),
        {"new": 2, "handed_off": 1, "accepted": 1, "contacted": 3, "proposal": 1, "won": 2},
        lost=1,
    )
    _funnel_leads(D(5, 3), {"new": 1, "handed_off": 2, "won": 1})
    _created(LeadFactory(), D(10, 1))  # 2026Q4: in neither

    # Cycle time, from first handoff to won. 2026Q3: 20, 30 and 70 days → median 30, mean 40, p90 62.
    # 2026Q2: 10 and 30 days → median 20, mean 20, p90 28. Revenue: orders of the won customers in the quarter.
    _won(at(D(7, 1)), at(D(7, 21)), web, "3000.00")
    _won(at(D(7, 10)), at(D(8, 9)), web, "1000.00")
    _won(at(D(6, 20)), at(D(8, 29)), web)
    _won(at(D(4, 1)), at(D(4, 11)), web, "1500.00")
    _won(at(D(4, 5)), at(D(5, 5)), web)

    # Channel spend, booked by month. 2026Q3: web 2000, fair 500 (nothing won) → web ROI (4000 − 2000) ÷ 2000 = 1,
    # fair −1, all (4000 − 2500) ÷ 2500 = 0.6. 2026Q2: web 1000 → ROI 0.5.
    for month in (D(7, 1), D(8, 1)):
        ChannelSpendFactory(channel=web, month=month, amount=Decimal("1000.00"))
    ChannelSpendFactory(channel=fair, month=D(9, 1), amount=Decimal("500.00"))
    ChannelSpendFactory(channel=web, month=D(4, 1), amount=Decimal("1000.00"))

    # Reasons. 2026Q3: rejected no_budget ×2, duplicate; lost price ×2, competitor. 2026Q2: no_budget, no_need; price.
    for when, reason in ((at(D(7, 5)), "no_budget"), (at(D(8, 5)), "no_budget"), (at(D(9, 5)), "duplicate")):
        _reject(when, reason)
    for when, reason in ((at(D(4, 5)), "no_budget"), (at(D(6, 5)), "no_need")):
        _reject(when, reason)
    for when, reason in ((at(D(7, 8)), "price"), (at(D(8, 8)), "price"), (at(D(9, 8)), "competitor")):
        _lose(when, reason)
    _lose(at(D(5, 8)), "price")

    # Complaints. 2026Q3: delivery ×2, product. First responses due in Q3: met 1 of 3 (one late, one never given);
    # resolutions due in Q3: met 1 of 2 (the third is due in Q4). 2026Q2: product ×2, first responses 2 of 2,
    # resolutions 1 of 2 (one never resolved).
    _complaint("delivery", at(D(7, 1), 10), at(D(7, 2), 10), at(D(7, 1), 12), at(D(7, 4), 10), at(D(7, 3)))
    _complaint("delivery", at(D(8, 1), 10), at(D(8, 2), 10), at(D(8, 3)), at(D(8, 4), 10), at(D(8, 10)))
    _complaint("product", at(D(9, 29), 10), at(D(9, 30), 10), None, at(D(10, 2), 10), None)
    _complaint("product", at(D(5, 1), 10), at(D(5, 2), 10), at(D(5, 1), 11), at(D(5, 4), 10), at(D(5, 3)))
    _complaint("product", at(D(6, 10), 10), at(D(6, 11), 10), at(D(6, 10), 11), at(D(6, 13), 10), None)
    _complaint("billing", at(D(11, 1), 10), at(D(11, 2), 10), None, at(D(11, 4), 10), None)  # 2026Q4

    # NPS. 2026Q3: 10, 9, 8, 3, 5 → (2 − 2) ÷ 5 = 0; the detractors' themes: price on both, delivery on one.
    # 2026Q2: 10, 10, 9, 2 → (3 − 1) ÷ 4 = 50; its detractor tagged price.
    _nps(D(7, 2), 10, tags=["product"])  # a promoter's tag is no detractor theme
    _nps(D(7, 3), 9)
    _nps(D(8, 3), 8)
    _nps(D(8, 4), 3, tags=["price", "delivery"])
    _nps(D(9, 4), 5, tags=["price"])
    for score in (10, 10, 9):
        _nps(D(5, 2), score)
    _nps(D(5, 3), 2, tags=["price"])

    # OKRs. Sales 2026Q3: cycle time from 45 to 28 days, now 30 → 88.2 %; a manual 80 of 100 → 80 %.
    # Marketing 2026Q3: funnel conversion from 10 % to 20 %, now 20 % → reached. Sales 2026Q2: manual 50 of 100.
    sales = ObjectiveFactory(department="sales", quarter="2026Q3", title="Close faster")
    cycle = KeyResultFactory(
        objective=sales,
        title="Median cycle time",
        metric="cycle_time_days",
        baseline=Decimal("45"),
        target=Decimal("28"),
        direction="down",
    )
    manual = KeyResultFactory(objective=sales, title="Playbook adoption", manual_value=Decimal("80"))
    marketing = ObjectiveFactory(
        department="marketing", quarter="2026Q3", owner=make_user("marketing_manager"), title="Better leads"
    )
    conversion = KeyResultFactory(
        objective=marketing, title="Conversion", metric="funnel", baseline=Decimal("0.1"), target=Decimal("0.2")
    )
    KeyResultFactory(
        objective=ObjectiveFactory(department="sales", quarter="2026Q2"), title="Q2", manual_value=Decimal("50")
    )
    return {"web": web, "fair": fair, "cycle": cycle, "manual": manual, "conversion": conversion}


# --- the figures -------------------------------------------------------------------------------------------------


def test_the_review_against_the_previous_quarter(api_as, fixture):
    response = api_as("sales").get(URL)
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["quarter"], body["start"], body["end"], body["previous_quarter"]) == (
        "2026Q3",
        "2026-07-01",
        "2026-10-01",
        "2026Q2",
    )

    funnel = body["funnel"]
    assert [s["count"] for s in funnel["stages"]] == [10, 8, 7, 6, 3, 3, 2, 2]
    assert [s["previous_count"] for s in funnel["stages"]] == [4, 3, 1, 1, 1, 1, 1, 1]
    assert (funnel["value"], funnel["sample_size"], funnel["lost"]) == (0.2, 10, 1)
    assert funnel["worst_step"] == {"from": "contacted", "to": "qualified", "drop": 0.5, "previous_drop": 0.0}
    assert funnel["previous"] == {
        "value": 0.25,
        "sample_size": 4,
        "lost": 0,
        "worst_step": {"from": "handed_off", "to": "accepted", "drop": 0.6667},
    }

    assert body["cycle_time"] == {
        "median": 30.0,
        "mean": 40.0,
        "p90": 62.0,
        "leads": 3,
        "benchmark_days": 28,
        "over_benchmark": 2.0,
        "previous": {"median": 20.0, "mean": 20.0, "p90": 28.0, "leads": 2},
    }

    reasons = body["reasons"]
    assert [(r["reason"], r["count"], r["share"], r["previous_count"]) for r in reasons["reject"]] == [
        ("no_budget", 2, 0.6667, 1),
        ("duplicate", 1, 0.3333, 0),
        ("no_need", 0, None, 1),
    ]
    assert [(r["reason"], r["count"], r["previous_count"]) for r in reasons["lost"]] == [
        ("price", 2, 1),
        ("competitor", 1, 0),
    ]
    assert (reasons["reject_total"], reasons["lost_total"], reasons["previous"]) == (3, 3, {"reject": 2, "lost": 1})

    complaints = body["complaints"]
    assert [(c["category"], c["count"], c["previous_count"]) for c in complaints["by_category"]] == [
        ("delivery", 2, 0),
        ("product", 1, 2),
    ]
    assert complaints["total"] == 3
    assert (complaints["first_response_met"], complaints["first_response_due"]) == (1, 3)
    assert (complaints["resolution_met"], complaints["resolution_due"]) == (1, 2)
    assert (complaints["first_response_sla_rate"], complaints["resolution_sla_rate"]) == (0.3333, 0.5)
    assert complaints["previous"] == {"total": 2, "first_response_sla_rate": 1.0, "resolution_sla_rate": 0.5}

    nps = body["nps"]
    assert (nps["value"], nps["sample_size"], nps["promoters"], nps["passives"], nps["detractors"]) == (0, 5, 2, 1, 2)
    assert nps["previous"] == {"value": 50, "sample_size": 4, "detractors": 1}
    assert [(t["theme"], t["count"], t["share"], t["previous_count"]) for t in nps["detractor_themes"]] == [
        ("price", 2, 1.0, 1),
        ("delivery", 1, 0.5, 0),
    ]

    channels = {c["channel"]: c for c in body["channels"]}
    assert channels["web"] == {
        "channel": "web",
        "name": "Website",
        "roi": 1.0,
        "previous_roi": 0.5,
        "revenue": "4000.00",
        "cost": "2000.00",
        "previous_revenue": "1500.00",
        "previous_cost": "1000.00",
    }
    assert (channels["fair"]["roi"], channels["fair"]["previous_roi"], channels["fair"]["cost"]) == (
        -1.0,
        None,
        "500.00",
    )
    assert body["channel_roi"] == {"value": 0.6, "previous": 0.5}
    # The leads rejected and lost through the services each have their source channel's visit: 6 customers touched in
    # 2026Q3, 3 in 2026Q2, each by one channel.
    assert body["duplicate_reach_rate"] == 0.0
    assert body["duplicate_reach"] == {"is_measured": True, "value": 0.0, "previous": 0.0}
    assert body["notes"] == []


def test_okr_outcomes_per_department(api_as, fixture):
    okr = {d["department"]: d for d in api_as("marketing").get(URL).json()["okr"]}
    sales = okr["sales"]
    assert (sales["key_results"], sales["reached"], sales["mean_progress"]) == (2, 0, 84.1)
    assert sales["previous"] == {"key_results": 1, "reached": 0, "mean_progress": 50.0}
    (objective,) = sales["objectives"]
    cycle, manual = objective["key_results"]
    assert (cycle["id"], cycle["value"], cycle["target"], cycle["progress"], cycle["previous_value"]) == (
        fixture["cycle"].pk,
        30.0,
        28.0,
        88.2,
        20.0,
    )
    assert (manual["value"], manual["progress"], manual["previous_value"], manual["is_reached"]) == (
        80.0,
        80.0,
        None,
        False,
    )
    marketing = okr["marketing"]
    assert (marketing["reached"], marketing["mean_progress"], marketing["previous"]["mean_progress"]) == (
        1,
        100.0,
        None,
    )
    (conversion,) = marketing["objectives"][0]["key_results"]
    assert (conversion["value"], conversion["previous_value"], conversion["is_reached"]) == (0.2, 0.25, True)
    assert okr["service"] == {
        "department": "service",
        "label": "Service",
        "key_results": 0,
        "reached": 0,
        "mean_progress": None,
        "objectives": [],
        "previous": {"key_results": 0, "reached": 0, "mean_progress": None},
    }


def test_the_page_shows_each_figure_against_the_previous_quarter(client_as, fixture):
    response = client_as("service").get(PAGE)
    assert response.status_code == 200
    html = response.content.decode()
    sections = ["review-okr", "review-funnel", "review-cycle-time", "review-reasons", "review-complaints"]
    sections += ["review-nps", "review-channels", "review-notes"]
    positions = [html.index(f'data-testid="{name}"') for name in sections]
    assert positions == sorted(positions)  # in the order of DESIGN.md
    worst = html.split('data-testid="worst-step"', 1)[1].split("</p>", 1)[0]
    assert "Contacted" in worst and "Qualified" in worst and "50 %" in worst and "change worse" in worst
    assert ">30 d<" in html and "The median is 2 d over the 28-day benchmark." in html
    assert '<span class="change worse">▲ +10 d' in html  # the median cycle time: 30 against 20 days
    assert 'data-testid="first-response-sla">33.3 %<' in html
    assert 'data-testid="nps">0<' in html and '▼ −50 <span class="why">worse' in html
    assert "▲ +50 pp" in html  # web ROI 100 % against 50 %
    assert "not measured yet" not in html  # the registry has duplicate_reach_rate
    assert '<svg class="chart hbars"' in html  # the funnel's bars
    assert html.count('data-testid="review-kr"') == 3


def test_the_page_is_printable(client_as, fixture):
    html = client_as("sales").get(PAGE).content.decode()
    assert "css/review.css" in html
    stylesheet = (Path(__file__).parents[2] / "static/css/review.css").read_text()
    printed = stylesheet.split("@media print", 1)[1]
    for rule in (".topbar", ".review-note-form", "break-inside: avoid", "color: #000", "background: #fff"):
        assert rule in printed


def test_duplicate_reach_against_the_previous_quarter(api_as, client_as, fixture):
    """Touches (metric duplicate_reach_rate). 2026Q3: P on Website and Trade fair, Q and R on Website, S on Trade fair,
    and the 6 customers of the fixture's rejected and lost leads on their source channel → 1 of 10 on two channels,
    0.1. 2026Q2: P and Q on both, R, S, T on one, and 3 leads' customers → 2 of 8, 0.25 (lower is better)."""
    web, fair = fixture["web"], fixture["fair"]
    people = {name: CustomerFactory() for name in "PQRST"}
    for name, channel, day in (
        ("P", web, D(7, 2)),
        ("P", fair, D(9, 30)),
        ("Q", web, D(8, 2)),
        ("R", web, D(8, 3)),
        ("S", fair, D(9, 1)),
        ("P", web, D(4, 2)),
        ("P", fair, D(4, 3)),
        ("Q", web, D(5, 2)),
        ("Q", fair, D(6, 30)),
        ("R", web, D(5, 3)),
        ("S", fair, D(5, 4)),
        ("T", fair, D(6, 1)),
    ):
        TouchpointFactory(customer=people[name], channel=channel, at=at(day, 10))
    TouchpointFactory(customer=people["T"], channel=web, at=at(D(10, 1), 10))  # 2026Q4: in neither
    body = api_as("sales").get(URL).json()
    assert body["duplicate_reach_rate"] == 0.1
    assert body["duplicate_reach"] == {"is_measured": True, "value": 0.1, "previous": 0.25}
    html = client_as("sales").get(PAGE).content.decode()
    row = html.split('data-testid="duplicate-reach"', 1)[1].split("</tr>", 1)[0]
    assert "10 %" in row and "25 %" in row and "change better" in row


def test_in_the_quarter_in_progress_what_is_not_due_yet_is_left_out(api_as):
    today = TODAY  # 15 November 2026, 12:00
    # First responses: one given early (met), one overdue (missed), one not due yet (left out).
    _complaint("price", at(D(11, 14)), at(D(11, 20)), at(D(11, 14), 13), at(D(12, 20)), None)
    _complaint("price", at(D(11, 9)), at(D(11, 10)), None, at(D(11, 12)), None)
    _complaint("price", at(today), at(D(11, 16)), None, at(D(12, 18)), None)
    complaints = api_as("service").get("/api/v1/reviews/2026Q4/").json()["complaints"]
    assert (complaints["first_response_met"], complaints["first_response_due"]) == (1, 2)
    assert (complaints["resolution_met"], complaints["resolution_due"]) == (0, 1)
    assert (complaints["first_response_sla_rate"], complaints["resolution_sla_rate"]) == (0.5, 0.0)


def test_a_quarter_without_data_reads_no_data(api_as, client_as):
    body = api_as("sales").get("/api/v1/reviews/2026Q1/").json()
    assert body["funnel"]["worst_step"] is None and body["funnel"]["value"] is None
    assert body["cycle_time"]["median"] is None and body["cycle_time"]["over_benchmark"] is None
    assert body["complaints"]["first_response_sla_rate"] is None and body["nps"]["value"] is None
    assert body["channels"] == [] and body["reasons"]["reject"] == []
    assert client_as("sales").get("/okr/reviews/2026Q1/").status_code == 200


# --- quarters ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("quarter", ["2026Q5", "abc", "2026q3", "26Q3", "2027Q1", "0001Q1", "1899Q4"])
def test_a_bad_or_future_quarter_is_a_400_naming_it(api_as, quarter):
    response = api_as("sales").get(f"/api/v1/reviews/{quarter}/")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/problem+json")
    assert [e["field"] for e in response.json()["errors"]] == ["quarter"]


@pytest.mark.parametrize("quarter", ["2026Q5", "abc", "2027Q1", "0000Q1"])
def test_a_bad_or_future_quarter_page_is_a_404(client_as, quarter):
    assert client_as("sales").get(f"/okr/reviews/{quarter}/").status_code == 404


def test_reviews_open_on_the_last_closed_quarter_and_the_one_chosen(client_as):
    client = client_as("marketing")
    assert client.get("/okr/reviews/")["Location"] == "/okr/reviews/2026Q3/"
    assert client.get("/okr/reviews/", {"quarter": "2025Q4"})["Location"] == "/okr/reviews/2025Q4/"
    assert client.get("/okr/reviews/", {"quarter": "nonsense"})["Location"] == "/okr/reviews/2026Q3/"
    html = client.get("/okr/reviews/2026Q3/").content.decode()
    assert '<option value="2026Q4">' in html and '<option value="2026Q3" selected>' in html
    assert 'href="/okr/reviews/2026Q2/" rel="prev"' in html and 'href="/okr/reviews/2026Q4/" rel="next"' in html
    assert 'rel="next"' not in client.get("/okr/reviews/2026Q4/").content.decode()  # the quarter in progress
    assert '<option value="2020Q1" selected>' in client.get("/okr/reviews/2020Q1/").content.decode()


def test_the_okr_nav_links_the_review(client_as):
    html = client_as("service").get(reverse("okr:board")).content.decode()
    assert 'href="/okr/reviews/"' in html


# --- who reads, who writes ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_every_role_reads_the_review(client_as, api_as, role):
    assert client_as(role).get(PAGE).status_code == 200
    assert api_as(role).get(URL).status_code == 200


@pytest.mark.parametrize("role", ROLES)
def test_only_managers_and_admins_see_the_form(client_as, role):
    html = client_as(role).get(PAGE).content.decode()
    assert ('data-testid="review-note-form"' in html) == (role in MANAGERS)


def test_signed_out_and_outsiders_are_refused(client):
    assert client.get(PAGE).status_code == 302  # to the login page
    outsider = UserFactory()  # signed in, in no department
    client.force_login(outsider)
    assert client.get(PAGE).status_code == 403
    assert client.post(f"{PAGE}notes/", {"kind": "finding", "department": "sales", "text": "x"}).status_code == 403


@pytest.mark.parametrize("role", NON_MANAGERS)
def test_a_non_manager_may_not_add_a_note(client_as, api_as, role):
    page = client_as(role).post(f"{PAGE}notes/", {"kind": "finding", "department": role, "text": "Slow replies"})
    assert page.status_code == 403
    api = api_as(role).post(f"{URL}notes/", {"kind": "finding", "department": role, "text": "x"}, format="json")
    assert api.status_code == 403 and api["Content-Type"].startswith("application/problem+json")
    assert not ReviewNote.objects.exists()


def test_a_manager_adds_for_their_own_department_only(client_as, api_as):
    client = client_as("sales_manager")
    refused = client.post(f"{PAGE}notes/", {"kind": "finding", "department": "service", "text": "Not mine"})
    assert refused.status_code == 422 and b'data-field="department"' in refused.content
    api = api_as("sales_manager")
    response = api.post(f"{URL}notes/", {"kind": "finding", "department": "service", "text": "x"}, format="json")
    assert response.status_code == 403
    assert not ReviewNote.objects.exists()


# --- findings and actions ------------------------------------------------------------------------------------------


def test_a_finding_is_added_and_shown(client_as):
    client = client_as("service_manager")
    response = client.post(
        f"{PAGE}notes/", {"kind": "finding", "department": "service", "text": "Deliveries complain most."}
    )
    assert response.status_code == 302 and response["Location"] == f"{PAGE}#notes"
    note = ReviewNote.objects.get()
    assert (note.quarter, note.department, note.kind, note.task, note.created_by) == (
        "2026Q3",
        "service",
        "finding",
        None,
        client.user,
    )
    html = client.get(PAGE).content.decode()
    assert "Deliveries complain most." in html and f'id="note-{note.pk}"' in html
    assert not Task.objects.exists()


def test_an_action_becomes_a_task_for_the_person_picked(client_as):
    client = client_as("sales_manager")
    rep = make_user("sales", first_name="Li", last_name="Wei")
    response = client.post(
        f"{PAGE}notes/",
        {
            "kind": "action",
            "department": "sales",
            "text": "Call every lead within a day.\nTrack it weekly.",
            "assignee": rep.pk,
            "due_at": "2026-12-01T09:00",
        },
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200 and "HX-Request" in response["Vary"]
    note = ReviewNote.objects.get()
    task = note.task
    assert (task.kind, task.assignee, task.department, task.title) == (
        TaskKind.REVIEW_ACTION,
        rep,
        "sales",
        "Call every lead within a day.",
    )
    assert task.due_at == at(D(12, 1), 9) and task.created_by == client.user
    assert task.notes == "Call every lead within a day.\nTrack it weekly."
    html = response.content.decode()  # the swapped notes
    row = html.split('data-testid="review-task"', 1)[1].split("</div>", 1)[0]
    assert 'data-done="no"' in row and f'href="/tasks/{task.pk}/"' in row and "Li Wei" in row

    todo.complete_task(task=task, by=rep, outcome="Done in the Monday meeting")
    html = client.get(PAGE).content.decode()
    assert 'data-done="yes"' in html and '<span class="pill ok"' in html
    # The task links back to the note in its review.
    detail = client.get(f"/tasks/{task.pk}/").content.decode()
    assert f'href="/okr/reviews/notes/{note.pk}/"' in detail and "2026Q3 review · Sales · action" in detail
    assert client.get(f"/okr/reviews/notes/{note.pk}/")["Location"] == f"{PAGE}#note-{note.pk}"


def test_an_action_without_a_person_goes_to_the_department_queue(api_as):
    api = api_as("service_manager")
    response = api.post(
        f"{URL}notes/",
        {
            "kind": "action",
            "department": "service",
            "text": "Answer within 24 h",
            "due_at": "2026-12-15T18:00:00+08:00",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    task = Task.objects.get()
    assert (task.assignee, task.department, task.kind) == (None, "service", TaskKind.REVIEW_ACTION)
    assert body["task"]["id"] == task.pk and body["task"]["is_done"] is False and body["task"]["assignee"] is None
    assert (body["kind"], body["department"], body["text"]) == ("action", "service", "Answer within 24 h")
    notes = api.get(URL).json()["notes"]
    assert [(n["kind"], n["task"]["id"]) for n in notes] == [("action", task.pk)]


def test_an_admin_gives_an_action_to_anyone(api_as):
    person = make_user("marketing")
    response = api_as("admin").post(
        f"{URL}notes/",
        {
            "kind": "action",
            "department": "sales",
            "text": "Tag leads before handoff",
            "assignee": person.pk,
            "due_at": "2026-12-15T18:00:00+08:00",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    assert Task.objects.get().assignee == person


def test_an_action_needs_a_due_date(client_as, api_as):
    client = client_as("marketing_manager")
    page = client.post(f"{PAGE}notes/", {"kind": "action", "department": "marketing", "text": "Fix the form"})
    assert page.status_code == 422 and b'data-field="due_at"' in page.content
    api = api_as("marketing_manager").post(
        f"{URL}notes/", {"kind": "action", "department": "marketing", "text": "Fix it"}, format="json"
    )
    assert api.status_code == 400 and [e["field"] for e in api.json()["errors"]] == ["due_at"]
    assert not ReviewNote.objects.exists() and not Task.objects.exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"kind": "finding", "department": "sales", "text": "   "}, "text"),
        ({"kind": "idea", "department": "sales", "text": "x"}, "kind"),
        ({"kind": "finding", "department": "finance", "text": "x"}, "department"),
        ({"kind": "action", "department": "sales", "text": "x", "due_at": "tomorrow"}, "due_at"),
        (
            {
                "kind": "action",
                "department": "sales",
                "text": "x",
                "due_at": "2026-12-01T09:00:00+08:00",
                "assignee": 987654,
            },
            "assignee",
        ),
    ],
)
def test_bad_notes_are_a_400_naming_the_field(api_as, payload, field):
    response = api_as("admin").post(f"{URL}notes/", payload, format="json")
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert not ReviewNote.objects.exists()


def test_no_notes_for_a_quarter_that_has_not_started(api_as, client_as):
    response = api_as("admin").post(
        "/api/v1/reviews/2027Q1/notes/", {"kind": "finding", "department": "sales", "text": "x"}, format="json"
    )
    assert response.status_code == 400 and [e["field"] for e in response.json()["errors"]] == ["quarter"]
    page = client_as("sales_manager").post("/okr/reviews/2027Q1/notes/", {"kind": "finding", "text": "x"})
    assert page.status_code == 404
    assert not ReviewNote.objects.exists()


# --- languages, queries ------------------------------------------------------------------------------------------


def test_the_page_renders_in_chinese(client_as, fixture):
    client = client_as("sales_manager")
    ReviewNote.objects.create(
        quarter="2026Q3",
        department="sales",
        kind="finding",
        text="跟进太慢",
        created_at=at(TODAY),
        created_by=client.user,
    )
    response = client.get(PAGE, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 200
    assert response["Content-Language"] == "zh-hans"
    html = response.content.decode()
    assert "跟进太慢" in html and 'lang="zh-hans"' in html
    assert "<th>变化</th>" in html  # the change since the previous quarter ("Change", context "difference")
    with translation.override("zh-hans"):
        assert 'data-testid="review-funnel"' in html


def _data(n: int):
    """n of every kind of row the review reads, in both quarters."""
    web = ChannelFactory(code="web")
    for index in range(n):
        for day in (D(8, 3), D(5, 3)):
            TouchpointFactory(channel=web, at=at(day, 10))
            _created(LeadFactory(stage="contacted"), day)
            _won(at(day - timedelta(days=20)), at(day), web, "100.00")
            _complaint("product", at(day), at(day, 10), at(day, 9), at(day + timedelta(days=2)), None)
            _nps(day, index % 11, tags=["price"])
        ChannelSpendFactory(channel=ChannelFactory(), month=D(8, 1))
        ReviewNote.objects.create(quarter="2026Q3", department="sales", kind="finding", text="x", created_at=at(TODAY))
    KeyResultFactory(objective=ObjectiveFactory(quarter="2026Q3"), metric="close_rate", baseline=0, target=1)
    KeyResultFactory(objective=ObjectiveFactory(quarter="2026Q2"), metric="close_rate", baseline=0, target=1)


# Per quarter (two of them): funnel 2, cycle time 1, reject and lost reasons 3 each, NPS 1, channels 3, duplicate
# reach 2 (channels with spend, the overlap's aggregate), complaint categories 1, complaint SLA 1, detractor themes 1,
# key results 1; then one per distinct key result binding part, the notes with their tasks (1). The page adds the
# session, the user, its groups and the unread notifications; the API the token or session look-ups.
PAGE_QUERIES = 45
API_QUERIES = 42
PG_EXTRA = 3  # PostgreSQL: metrics.plain_plans' savepoint, SET LOCAL and release


@pytest.mark.parametrize("n", [1, 6])
def test_page_queries_do_not_grow(client_as, django_assert_max_num_queries, n):
    client = client_as("sales_manager")
    _data(n)
    with django_assert_max_num_queries(PAGE_QUERIES + (PG_EXTRA if connection.vendor == "postgresql" else 0)):
        response = client.get(PAGE)
    assert response.status_code == 200
    assert response.content.decode().count('data-testid="review-note"') == n


@pytest.mark.parametrize("n", [1, 6])
def test_api_queries_do_not_grow(api_as, django_assert_max_num_queries, n):
    api = api_as("sales")
    _data(n)
    with django_assert_max_num_queries(API_QUERIES + (PG_EXTRA if connection.vendor == "postgresql" else 0)):
        response = api.get(URL)
    assert response.status_code == 200 and len(response.json()["notes"]) == n
