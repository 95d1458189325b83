"""The home page (config.home + the panels leads, feedback and okr register): each person's queue with its SLA
state, a few numbers and the department's key results, at a fixed query count."""

from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from config import home
from feedback import services as feedback_services
from leads import services as lead_services
from leads.stages import Stage
from tests.conftest import ROLES
from tests.factories import CustomerFactory, KeyResultFactory, ObjectiveFactory, UserFactory, lead_through, make_user

pytestmark = pytest.mark.django_db

H = timedelta(hours=1)
MINE = ("feedback", "leads", "okr")  # the panels of this issue; other apps may add theirs (e.g. tasks)


def _now() -> datetime:
    """Wednesday 18 November 2026, 15:00 local: mid-week (this week began on Monday the 16th), mid-quarter."""
    return timezone.make_aware(datetime.combine(date(2026, 11, 18), time(15)))


@pytest.fixture
def now():
    with time_machine.travel(_now(), tick=False):
        yield _now()


def _panels(response) -> dict:
    assert response.status_code == 200
    return {panel["key"]: panel["context"] for panel in response.context["panels"]}


def _home(client):
    return client.get("/")


# --- the registry ---------------------------------------------------------------------------------------------


def test_panels_render_in_order_and_a_panel_may_hide(monkeypatch, rf):
    monkeypatch.setattr(home, "_PANELS", {})
    home.register("late", order=30, template="x.html", context=lambda request: {"n": 3})
    home.register("hidden", order=5, template="y.html", context=lambda request: None)
    home.register("early", order=10, template="z.html", context=lambda request: {"n": 1})
    shown = home.panels_for(rf.get("/"))
    assert [(p["key"], p["template"], p["context"]) for p in shown] == [
        ("early", "z.html", {"n": 1}),
        ("late", "x.html", {"n": 3}),
    ]


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("marketing", ["leads", "okr"]),
        ("sales", ["leads", "okr"]),
        ("service", ["feedback", "okr"]),
        ("marketing_manager", ["leads", "okr"]),
        ("sales_manager", ["leads", "okr"]),
        ("service_manager", ["feedback", "okr"]),
        ("admin", ["feedback", "leads", "okr"]),
    ],
)
def test_each_role_gets_its_panels_and_no_grid_of_menu_links(client_as, now, role, expected):
    response = _home(client_as(role))
    assert [key for key in _panels(response) if key in MINE] == expected
    html = response.content.decode()
    for key in expected:
        assert f'data-panel="{key}"' in html
    assert 'class="tiles"' not in html


def test_someone_in_no_department_gets_no_panel(client, now):
    client.force_login(UserFactory())
    assert not [key for key in _panels(_home(client)) if key in MINE]


# --- sales ----------------------------------------------------------------------------------------------------


def test_a_sellers_queue_is_newest_first_with_the_accept_sla(client_as, now):
    seller, colleague = make_user("sales"), make_user("sales")
    late = lead_through(Stage.HANDED_OFF, owner=seller, now=now - 30 * H)
    fresh = lead_through(Stage.HANDED_OFF, owner=seller, now=now - 2 * H)
    pooled = lead_through(Stage.HANDED_OFF, pool=True, now=now - H)
    not_mine = lead_through(Stage.HANDED_OFF, owner=colleague, now=now - H)
    lead_through(Stage.NEW)  # marketing's

    response = _home(client_as(user=seller))
    sales = _panels(response)["leads"]["sales"]
    assert [row["pk"] for row in sales["rows"]] == [pooled.pk, fresh.pk, late.pk]
    assert (sales["awaiting"], sales["awaiting_breached"]) == (3, 1)
    assert [row["sla_breached"] for row in sales["rows"]] == [False, False, True]
    assert sales["rows"][1]["sla_due_at"] == now + 22 * H  # the 24 h acceptance SLA
    html = response.content.decode()
    for lead in (late, fresh, pooled):  # the record's name links to the record
        assert f'<a href="/leads/{lead.pk}/">{lead.customer.name}</a>' in html
    assert f"/leads/{not_mine.pk}/" not in html
    assert html.count('data-testid="sla-breached"') == 1 and html.count('data-testid="sla-due"') == 2
    assert "SLA breached 6\xa0hours ago" in html and "decide within 22\xa0hours" in html


def test_a_sellers_numbers(client_as, now):
    seller = make_user("sales")
    lead_through(Stage.CONTACTED, owner=seller, now=now - 24 * H)  # accepted Tuesday: this week
    lead_through(Stage.PROPOSAL, owner=seller, now=now - 10 * 24 * H)  # accepted last week
    lead_through(Stage.WON, owner=seller, now=now - H)  # accepted and won this week
    lead_through(Stage.ACCEPTED, owner=seller, now=now - 80 * H)  # not contacted within 72 h
    lead_through(Stage.CONTACTED, owner=make_user("sales"), now=now - H)  # a colleague's

    sales = _panels(_home(client_as(user=seller)))["leads"]["sales"]
    assert {row["stage"]: row["count"] for row in sales["by_stage"]} == {
        Stage.ACCEPTED: 1,
        Stage.CONTACTED: 1,
        Stage.QUALIFIED: 0,
        Stage.PROPOSAL: 1,
        Stage.NEGOTIATION: 0,
    }
    assert (sales["open_pipeline"], sales["accepted_this_week"], sales["won_this_week"]) == (3, 2, 1)
    assert sales["not_contacted"] == 1
    assert sales["by_stage"][1]["url"] == "/leads/?stage=contacted&mine=true"


def test_the_sales_manager_sees_the_departments_handoffs(client_as, now):
    one, two = make_user("sales"), make_user("sales")
    leads = [
        lead_through(Stage.HANDED_OFF, owner=one, now=now - 3 * H),
        lead_through(Stage.HANDED_OFF, owner=two, now=now - 2 * H),
        lead_through(Stage.HANDED_OFF, pool=True, now=now - 26 * H),
    ]
    lead_through(Stage.CONTACTED, owner=one, now=now - H)
    sales = _panels(_home(client_as("sales_manager")))["leads"]["sales"]
    assert [row["pk"] for row in sales["rows"]] == [leads[1].pk, leads[0].pk, leads[2].pk]
    assert (sales["manager"], sales["awaiting"], sales["awaiting_breached"], sales["open_pipeline"]) == (True, 3, 1, 1)


# --- marketing ------------------------------------------------------------------------------------------------


def test_a_marketers_leads_to_hand_off_nurture_and_deepen(client_as, now):
    marketer, colleague, seller = make_user("marketing"), make_user("marketing"), make_user("sales")
    new = lead_through(Stage.NEW, marketer=marketer, now=now - 5 * H)
    newer = lead_through(Stage.NEW, marketer=marketer, now=now - H)
    rejected = lead_through(Stage.HANDED_OFF, marketer=marketer, owner=seller, now=now - 4 * H)
    lead_services.reject_lead(lead=rejected, by=seller, reason="no_budget", now=now - 2 * H)
    hot = lead_through(Stage.CONTACTED, marketer=marketer, owner=seller, now=now - 3 * H)
    lead_services.flag_high_intent(lead=hot, by=seller, now=now - H)
    others = lead_through(Stage.NEW, marketer=colleague, now=now - H)

    response = _home(client_as(user=marketer))
    marketing = _panels(response)["leads"]["marketing"]
    assert [row["pk"] for row in marketing["to_hand_off_rows"]] == [newer.pk, new.pk]
    assert [(row["pk"], row["reject_label"]) for row in marketing["rejected_rows"]] == [(rejected.pk, "No budget")]
    assert [row["pk"] for row in marketing["high_intent_rows"]] == [hot.pk]
    assert (marketing["to_hand_off"], marketing["rejected"], marketing["high_intent"]) == (2, 1, 1)
    assert (marketing["handed_off_this_week"], marketing["accepted_this_week"]) == (2, 1)
    assert f"/leads/{others.pk}/" not in response.content.decode()

    everyone = _panels(_home(client_as("marketing_manager")))["leads"]["marketing"]
    assert [row["pk"] for row in everyone["to_hand_off_rows"]] == [others.pk, newer.pk, new.pk]


# --- service --------------------------------------------------------------------------------------------------


def _complaint(by, *, owner=None, severity="medium", opened):
    return feedback_services.create_complaint(
        by=by,
        customer=CustomerFactory(),
        category="product",
        description="Broken on arrival.",
        severity=severity,
        owner=owner,
        now=opened,
    )


def test_a_service_users_complaints_by_due_time_with_their_sla(client_as, now):
    agent, colleague = make_user("service"), make_user("service")
    overdue = _complaint(agent, owner=agent, opened=now - 30 * H)  # medium: first response due in 24 h
    soon = _complaint(agent, owner=agent, severity="high", opened=now - 2 * H)  # first response due in 8 h
    later = _complaint(agent, owner=agent, severity="low", opened=now - H)  # first response due in 48 h
    done = _complaint(agent, owner=agent, opened=now - 5 * H)
    feedback_services.transition_complaint(complaint=done, by=agent, status="in_progress", now=now - 4 * H)
    feedback_services.transition_complaint(
        complaint=done, by=agent, status="resolved", resolution="Replaced.", now=now - 3 * H
    )
    not_mine = _complaint(colleague, owner=colleague, opened=now - 3 * H)
    _complaint(agent, opened=now - H)  # unassigned

    response = _home(client_as(user=agent))
    service = _panels(response)["feedback"]
    assert [c.pk for c in service["rows"]] == [overdue.pk, soon.pk, later.pk]
    assert [c.is_overdue for c in service["rows"]] == [True, False, False]
    assert (service["open"], service["overdue"], service["unassigned"], service["resolved_this_week"]) == (3, 1, 1, 1)
    html = response.content.decode()
    assert f'<a href="/feedback/complaints/{overdue.pk}/">{overdue.customer.name}</a>' in html
    assert html.count('data-testid="overdue-row"') == 1
    assert f"/feedback/complaints/{not_mine.pk}/" not in html

    manager = _panels(_home(client_as("service_manager")))["feedback"]
    assert {c.pk for c in manager["rows"]} >= {overdue.pk, soon.pk, later.pk, not_mine.pk}
    assert manager["open"] == 5


# --- key results ----------------------------------------------------------------------------------------------


def test_the_departments_key_results_with_value_target_and_progress(client_as, now):
    sales_kr = KeyResultFactory(
        objective=ObjectiveFactory(department="sales", quarter="2026Q4"),
        title="Run 40 on-site demos",
        baseline=Decimal("0"),
        target=Decimal("40"),
        manual_value=Decimal("10"),
    )
    KeyResultFactory(objective=ObjectiveFactory(department="service", quarter="2026Q4"), title="Service's own")
    KeyResultFactory(objective=ObjectiveFactory(department="sales", quarter="2026Q3"), title="Last quarter's")

    response = _home(client_as("sales"))
    okr = _panels(response)["okr"]
    assert okr["quarter"] == "2026Q4"
    assert [(d["code"], [r.key_result.pk for r in d["rows"]]) for d in okr["departments"]] == [("sales", [sales_kr.pk])]
    row = okr["departments"][0]["rows"][0]
    assert (row.current, row.progress) == (10.0, 25.0)
    html = response.content.decode()
    assert "Run 40 on-site demos" in html and "Service's own" not in html and "Last quarter's" not in html
    assert 'href="/okr/?quarter=2026Q4"' in html

    everyone = _panels(_home(client_as("admin")))["okr"]
    assert [d["code"] for d in everyone["departments"]] == ["marketing", "sales", "service"]


# --- a fixed number of queries --------------------------------------------------------------------------------


def _data(n, now):
    """n of everything a panel lists, for every role at once."""
    seller, marketer, agent = make_user("sales"), make_user("marketing"), make_user("service")
    for i in range(n):
        lead_through(Stage.HANDED_OFF, marketer=marketer, owner=seller, now=now - (i + 1) * H)
        lead_through(Stage.HANDED_OFF, marketer=marketer, pool=True, now=now - (i + 30) * H)
        lead_through(Stage.NEW, marketer=marketer, now=now - i * H)
        lead_through(Stage.CONTACTED, marketer=marketer, owner=seller, now=now - i * H)
        _complaint(agent, owner=agent, opened=now - i * 5 * H)
    ObjectiveFactory.reset_sequence()
    for department in ("marketing", "sales", "service"):
        KeyResultFactory(objective=ObjectiveFactory(department=department, quarter="2026Q4"), manual_value=5)
    return {"sales": seller, "marketing": marketer, "service": agent}


def _queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert _home(client).status_code == 200
    return len(queries.captured_queries)


# session, user, groups, unread count + leads: 2 (sales) or 4 (marketing), feedback: 2, okr: the key results (one
# query; manual ones compute nothing). The admin sees every panel.
BUDGET = {"sales": 7, "marketing": 9, "service": 7, "admin": 13}


@pytest.mark.parametrize("role", ROLES)
def test_home_queries_do_not_grow(client_as, django_assert_max_num_queries, monkeypatch, now, role):
    monkeypatch.setattr(home, "_PANELS", {key: p for key, p in home._PANELS.items() if key in MINE})  # ours only
    people = _data(1, now)
    client = client_as(user=people.get(role)) if role in people else client_as(role)
    _queries(client)  # warm the per-process caches
    few = _queries(client)
    _data(12, now)
    extra = 3 if connection.vendor == "postgresql" else 0  # okr's metrics batch: SAVEPOINT, SET LOCAL, RELEASE
    with django_assert_max_num_queries(BUDGET[role.removesuffix("_manager")] + extra):
        many = _queries(client)
    assert many == few
