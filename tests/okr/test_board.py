from datetime import date, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from okr.models import CheckIn, KeyResult, Objective
from okr.selectors import current_quarter, quarter_bounds
from tests.factories import (
    ChannelFactory,
    CheckInFactory,
    KeyResultFactory,
    LeadFactory,
    MetricSnapshotFactory,
    NpsResponseFactory,
    ObjectiveFactory,
    make_user,
)
from tests.okr.conftest import at, history

pytestmark = pytest.mark.django_db


def _quarter_days():
    start, end = quarter_bounds(current_quarter())
    return start, end


def test_board_shows_every_department_with_live_values_and_progress(client_as):
    start, _end = _quarter_days()
    today = timezone.localdate()
    history(("negotiation", "won", at(start, 1)))
    history(("negotiation", "lost", at(start, 2)))
    history(("negotiation", "won", at(start, 3)))
    history(("negotiation", "won", at(today)))  # 3 won, 1 lost → 0.75
    sales = ObjectiveFactory(department="sales", quarter=current_quarter(), title="Close more")
    KeyResultFactory(
        objective=sales, title="Close rate", metric="close_rate", baseline=Decimal("0.5"), target=Decimal("1")
    )
    service = ObjectiveFactory(
        department="service", quarter=current_quarter(), owner=make_user("service_manager"), title="Happy customers"
    )
    manual = KeyResultFactory(objective=service, title="Onboarding calls", baseline=0, target=40, manual_value=10)
    CheckInFactory(key_result=manual, confidence=3, comment="Slow start")
    ObjectiveFactory(department="marketing", quarter="2020Q1", title="Old objective")

    response = client_as("marketing").get(reverse("okr:board"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Close more" in html and "Happy customers" in html and "Old objective" not in html
    assert "75.0 %" in html  # the close rate, as a percentage
    assert "50.0 %" in html  # progress (0.75 − 0.5) ÷ (1 − 0.5)
    assert "25.0 %" in html  # manual 10 of 40
    assert "3/10" in html and "Slow start" in html
    assert 'data-department="marketing"' in html


def test_board_switches_quarters(client_as):
    ObjectiveFactory(quarter="2025Q2", title="Past objective")
    response = client_as("sales").get(reverse("okr:board"), {"quarter": "2025Q2"})
    assert "Past objective" in response.content.decode()
    assert "?quarter=2025Q1" in response.content.decode() and "?quarter=2025Q3" in response.content.decode()


def test_board_draws_the_trend_from_snapshots_as_inline_svg(client_as):
    start, _end = _quarter_days()
    kr = KeyResultFactory(objective=ObjectiveFactory(quarter=current_quarter()), manual_value=5)
    for offset, value in enumerate((10, 20, 15)):
        MetricSnapshotFactory(key_result=kr, date=start + timedelta(days=offset), value=value)
    html = client_as("sales").get(reverse("okr:board")).content.decode()
    assert '<svg class="chart trend"' in html and "<polyline" in html
    assert "<script" not in html.split("<main", 1)[1]  # no chart library


def _bind_many(n: int, quarter: str):
    owner = make_user("sales_manager")
    bindings = [
        ("close_rate", {}),
        ("cycle_time_days", {}),
        ("nps", {}),
        ("channel_roi", {}),
        ("", {}),  # manual
    ]
    for i in range(n):
        objective = ObjectiveFactory(quarter=quarter, owner=owner, department=("sales", "marketing", "service")[i % 3])
        metric, filters = bindings[i % len(bindings)]
        kr = KeyResultFactory(objective=objective, metric=metric, metric_filters=filters, manual_value=1)
        CheckInFactory(key_result=kr)
        MetricSnapshotFactory(key_result=kr, date=quarter_bounds(quarter)[0])
    for i in range(n // 5):  # referrers, as many as the key results grow
        LeadFactory(referred_by=make_user(("sales", "marketing", "service")[i % 3]))


@pytest.mark.parametrize("n", [5, 40])
def test_board_query_count_does_not_grow_with_key_results(client_as, django_assert_max_num_queries, n):
    quarter = current_quarter()
    _bind_many(n, quarter)
    NpsResponseFactory(answered_at=at(quarter_bounds(quarter)[0]))
    client = client_as("sales")
    # session, user, groups, unread notifications, objectives, key results (+ latest check-in), snapshots,
    # then the 4 distinct bindings: close_rate 1 (today's counts, with the closed days' on the first visit),
    # cycle_time 1 (today's wins) + 1 on the first visit (the closed days' wins, then kept), nps 1,
    # channel_roi 3 (channels, spend, wins and revenue); the referrals aggregate and the referrers' names;
    # PostgreSQL adds SAVEPOINT, SET LOCAL (jit, work_mem) and RELEASE once per page.
    for most in (16, 15):
        with django_assert_max_num_queries(most + (3 if connection.vendor == "postgresql" else 0)):
            response = client.get(reverse("okr:board"))
        assert response.status_code == 200
        assert response.content.decode().count('data-testid="key-result"') == n
        assert response.content.decode().count('data-testid="referral"') == n // 5


def test_board_shows_referrals_and_won_revenue_per_employee_for_the_quarter(client_as):
    start, _end = _quarter_days()
    alice = make_user("service", first_name="Alice", last_name="Tan")
    bob = make_user("marketing", username="bob", first_name="", last_name="")
    LeadFactory(referred_by=alice, stage="won", won_amount=Decimal("1200.00"))
    LeadFactory(referred_by=alice, stage="won", won_amount=Decimal("300.50"))
    LeadFactory(referred_by=alice, stage="lost")
    LeadFactory(referred_by=bob)
    last_quarter = LeadFactory(referred_by=bob, stage="won", won_amount=Decimal("999.00"))
    type(last_quarter).objects.filter(pk=last_quarter.pk).update(created_at=at(start - timedelta(days=1), 23, 59))
    LeadFactory(stage="won", won_amount=Decimal("50.00"))  # nobody's referral

    html = client_as("sales").get(reverse("okr:board")).content.decode()
    section = html.split('id="referrals"', 1)[1]
    rows = [r.split("</tr>")[0] for r in section.split('data-testid="referral"')[1:]]
    assert len(rows) == 2
    # Alice first (highest won revenue): 3 referred, 2 won, 1,500.50; Bob: 1 referred this quarter, none won.
    assert f'data-user="{alice.pk}"' in rows[0] and "Alice Tan" in rows[0] and "Service" in rows[0]
    assert ">3<" in rows[0] and ">2<" in rows[0] and "1,500.50" in rows[0]
    assert f'data-user="{bob.pk}"' in rows[1] and ">bob<" in rows[1] and "Marketing" in rows[1]
    assert ">1<" in rows[1] and ">0<" in rows[1] and "999" not in section


def test_board_says_when_nobody_referred_a_lead(client_as):
    LeadFactory()
    html = client_as("sales").get(reverse("okr:board")).content.decode()
    assert 'data-testid="referral"' not in html and "No referred leads this quarter." in html


def test_owner_checks_in_with_htmx_and_gets_the_card_back(client_as):
    manager = make_user("sales_manager")
    kr = KeyResultFactory(objective=ObjectiveFactory(owner=manager, quarter=current_quarter()), manual_value=50)
    client = client_as(user=manager)
    response = client.post(
        reverse("okr:key-result-check-in", args=[kr.pk]),
        {"confidence": "8", "comment": "On track"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert f'id="kr-{kr.pk}"' in response.content.decode() and "8/10" in response.content.decode()
    check_in = CheckIn.objects.get(key_result=kr)
    assert (check_in.confidence, check_in.comment, check_in.by, check_in.value) == (8, "On track", manager, 50)


def test_objective_owner_who_is_not_a_manager_may_check_in(client_as):
    seller = make_user("sales")
    kr = KeyResultFactory(objective=ObjectiveFactory(owner=seller, quarter=current_quarter()))
    response = client_as(user=seller).post(reverse("okr:key-result-check-in", args=[kr.pk]), {"confidence": "5"})
    assert response.status_code == 302
    assert CheckIn.objects.filter(key_result=kr).count() == 1


def test_invalid_check_in_is_422_with_the_field_error(client_as):
    manager = make_user("sales_manager")
    kr = KeyResultFactory(objective=ObjectiveFactory(owner=manager, quarter=current_quarter()))
    response = client_as(user=manager).post(
        reverse("okr:key-result-check-in", args=[kr.pk]), {"confidence": "11"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 422
    assert 'data-field="confidence"' in response.content.decode()
    assert not CheckIn.objects.exists()


@pytest.mark.parametrize("role", ["sales", "marketing", "marketing_manager", "service_manager"])
def test_others_may_not_check_in(client_as, role):
    kr = KeyResultFactory(objective=ObjectiveFactory(department="sales", quarter=current_quarter()))
    response = client_as(role).post(reverse("okr:key-result-check-in", args=[kr.pk]), {"confidence": "5"})
    assert response.status_code == 403
    assert not CheckIn.objects.exists()


def test_manager_adds_objective_and_key_result_on_pages(client_as):
    ChannelFactory(code="web", name="Website")
    manager = make_user("marketing_manager")
    client = client_as(user=manager)
    response = client.post(
        reverse("okr:objective-new") + "?department=marketing",
        {"department": "marketing", "quarter": "2026Q4", "owner": manager.pk, "title": "Better leads"},
    )
    assert response.status_code == 302
    objective = manager.objectives.get()
    response = client.post(
        reverse("okr:key-result-new", args=[objective.pk]),
        {
            "title": "Quality",
            "metric": "lead_quality_score",
            "channel": "web",
            "baseline": "50",
            "target": "70",
            "direction": "up",
        },
    )
    assert response.status_code == 302
    kr = objective.key_results.get()
    assert (kr.metric, kr.metric_filters) == ("lead_quality_score", {"channel": "web"})


def test_key_result_page_names_the_bad_filter(client_as):
    ChannelFactory(code="web", name="Website")
    manager = make_user("service_manager")
    objective = ObjectiveFactory(department="service", owner=manager)
    response = client_as(user=manager).post(
        reverse("okr:key-result-new", args=[objective.pk]),
        {"title": "NPS", "metric": "nps", "channel": "web", "baseline": "0", "target": "30", "direction": "up"},
    )
    assert response.status_code == 422
    assert not objective.key_results.exists()


def test_key_result_filters_offer_channels_by_name_and_refuse_an_unknown_code(client_as):
    ChannelFactory(code="wechat", name="WeChat")
    manager = make_user("marketing_manager")
    objective = ObjectiveFactory(department="marketing", owner=manager)
    client = client_as(user=manager)
    page = client.get(reverse("okr:key-result-new", args=[objective.pk])).content.decode()
    assert '<option value="wechat">WeChat</option>' in page
    assert 'hx-get="/pick/staff/?field=owner"' in page and 'hx-get="/pick/campaigns/?field=campaign"' in page
    response = client.post(
        reverse("okr:key-result-new", args=[objective.pk]),
        {"title": "Q", "metric": "lead_quality_score", "channel": "WeChat", "baseline": "0", "target": "1"}
        | {"direction": "up"},
    )
    assert response.status_code == 422
    assert 'data-field="channel"' in response.content.decode()
    assert not objective.key_results.exists()


@pytest.mark.parametrize("role", ["sales", "marketing_manager"])
def test_other_roles_get_403_on_edit_pages(client_as, role):
    objective = ObjectiveFactory(department="sales")
    kr = KeyResultFactory(objective=objective)
    client = client_as(role)
    assert client.get(reverse("okr:objective-edit", args=[objective.pk])).status_code == 403
    assert client.get(reverse("okr:key-result-edit", args=[kr.pk])).status_code == 403
    assert client.get(reverse("okr:key-result-new", args=[objective.pk])).status_code == 403
    assert client.get(reverse("okr:objective-new") + "?department=sales").status_code == 403


def test_anonymous_is_sent_to_login(client):
    response = client.get(reverse("okr:board"))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_card_shows_the_weekly_cadence(client_as):
    manager = make_user("sales_manager")
    done = KeyResultFactory(objective=ObjectiveFactory(owner=manager, quarter=current_quarter()), manual_value=1)
    stale = KeyResultFactory(objective=done.objective, manual_value=1)
    CheckInFactory(key_result=done, confidence=6, at=timezone.now())
    CheckInFactory(key_result=stale, confidence=6, at=timezone.now() - timedelta(days=7))
    html = client_as(user=manager).get(reverse("okr:board")).content.decode()
    done_card = html.split(f'id="kr-{done.pk}"', 1)[1].split('class="okr-kr"', 1)[0]
    stale_card = html.split(f'id="kr-{stale.pk}"', 1)[1].split('class="okr-kr"', 1)[0]
    assert "Update this week" in done_card and "due this week" not in done_card
    assert "Weekly check-in" in stale_card and "due this week" in stale_card


def test_manager_deletes_an_objective_from_its_edit_page_after_confirming(client_as):
    manager = make_user("sales_manager")
    objective = ObjectiveFactory(department="sales", quarter="2026Q1", title="Win more")
    kr = KeyResultFactory(objective=objective, title="Close rate up")
    CheckInFactory(key_result=kr)
    client = client_as(user=manager)
    edit = client.get(reverse("okr:objective-edit", args=[objective.pk])).content.decode()
    assert reverse("okr:objective-delete", args=[objective.pk]) in edit
    confirm = client.get(reverse("okr:objective-delete", args=[objective.pk]))
    assert confirm.status_code == 200 and "Win more" in confirm.content.decode()
    assert "its 1 key result" in confirm.content.decode()
    response = client.post(reverse("okr:objective-delete", args=[objective.pk]))
    assert response.status_code == 302 and response["Location"].endswith("?quarter=2026Q1")
    assert not Objective.objects.filter(pk=objective.pk).exists() and not CheckIn.objects.exists()


def test_manager_deletes_a_key_result_from_its_edit_page(client_as):
    manager = make_user("service_manager")
    kr = KeyResultFactory(objective=ObjectiveFactory(department="service", quarter="2026Q2"), title="NPS 40")
    client = client_as(user=manager)
    assert (
        reverse("okr:key-result-delete", args=[kr.pk])
        in client.get(reverse("okr:key-result-edit", args=[kr.pk])).content.decode()
    )
    assert "NPS 40" in client.get(reverse("okr:key-result-delete", args=[kr.pk])).content.decode()
    response = client.post(reverse("okr:key-result-delete", args=[kr.pk]))
    assert response.status_code == 302 and response["Location"].endswith("?quarter=2026Q2")
    assert not KeyResult.objects.filter(pk=kr.pk).exists() and Objective.objects.filter(pk=kr.objective_id).exists()


@pytest.mark.parametrize("role", ["sales", "marketing_manager", "service"])
def test_only_the_departments_manager_may_delete_its_okrs(client_as, role):
    kr = KeyResultFactory(objective=ObjectiveFactory(department="sales"))
    client = client_as(role)
    for url in (
        reverse("okr:objective-delete", args=[kr.objective_id]),
        reverse("okr:key-result-delete", args=[kr.pk]),
    ):
        assert client.get(url).status_code == 403
        assert client.post(url).status_code == 403
    assert KeyResult.objects.filter(pk=kr.pk).exists()


# --- one pass, closed days kept ---------------------------------------------------------------------------------


def mid_quarter():
    return time_machine.travel(at(date(2026, 11, 18), 15), tick=False)


def _currents(html: str) -> dict[str, str]:
    """{key result title: the "Now" figure} of a board page."""
    cards = html.split('data-testid="key-result"')[1:]
    out = {}
    for card in cards:
        title = card.split("<strong>", 1)[1].split("</strong>", 1)[0].strip()
        out[title] = card.split('data-testid="current"', 1)[1].split(":", 1)[1].split("<", 1)[0].strip()
    return out


@pytest.fixture
def decisions_this_quarter():
    """Handoff decisions on closed days of 2026Q4 and today (18 November, 15:00)."""
    with mid_quarter():
        web = ChannelFactory(code="web")
        history(("new", "handed_off", at(date(2026, 10, 5))), ("handed_off", "accepted", at(date(2026, 10, 5), 20)))
        history(("new", "handed_off", at(date(2026, 11, 1))), ("handed_off", "new", at(date(2026, 11, 4))))
        history(
            ("new", "handed_off", at(date(2026, 11, 18), 9)), ("handed_off", "accepted", at(date(2026, 11, 18), 10))
        )
        history(("new", "handed_off", at(date(2026, 11, 2))), ("handed_off", "accepted", at(date(2026, 11, 3))))
        history(
            ("new", "handed_off", at(date(2026, 11, 9))),
            ("handed_off", "new", at(date(2026, 11, 9), 5)),
            source_channel=web,
        )
        yield


@pytest.mark.usefixtures("decisions_this_quarter")
def test_key_results_sharing_a_metric_or_a_part_are_computed_in_one_pass(client_as, django_assert_max_num_queries):
    with mid_quarter():
        manager = make_user("marketing_manager")
        for department, title, metric, filters in (
            ("marketing", "Quality", "lead_quality_score", {}),
            ("sales", "Quality seen by sales", "lead_quality_score", {}),  # the same binding
            ("marketing", "Fast decisions", "handoff_sla_rate", {}),  # the same handoff decisions
            ("marketing", "Web quality", "lead_quality_score", {"channel": "web"}),  # filtered: computed whole
        ):
            objective = ObjectiveFactory(department=department, quarter="2026Q4", owner=manager)
            KeyResultFactory(objective=objective, title=title, metric=metric, metric_filters=filters)
        client = client_as(user=manager)
        # session, user, groups, notifications, objectives, key results, snapshots; the handoff decisions once
        # unfiltered and once for the web channel; the referrals aggregate (no referrers, so no names).
        for _visit in ("closed days computed", "closed days kept"):
            with django_assert_max_num_queries(10 + (3 if connection.vendor == "postgresql" else 0)):
                html = client.get(reverse("okr:board"), {"quarter": "2026Q4"}).content.decode()
            assert _currents(html) == {
                "Quality": "60",  # 3 accepted, 2 rejected
                "Quality seen by sales": "60",
                "Fast decisions": "80.0 %",  # 4 of 5 within 24 hours
                "Web quality": "0",
            }


@pytest.mark.usefixtures("decisions_this_quarter")
def test_the_board_sees_late_history_for_a_closed_day_at_once(client_as):
    with mid_quarter():
        manager = make_user("sales_manager")
        objective = ObjectiveFactory(department="sales", quarter="2026Q4", owner=manager)
        KeyResultFactory(objective=objective, title="Quality", metric="lead_quality_score")
        client = client_as(user=manager)
        assert _currents(client.get(reverse("okr:board")).content.decode()) == {"Quality": "60"}
        history(("new", "handed_off", at(date(2026, 11, 10))), ("handed_off", "accepted", at(date(2026, 11, 11))))
        assert _currents(client.get(reverse("okr:board")).content.decode()) == {"Quality": "66.67"}
        history(
            ("new", "handed_off", at(date(2026, 11, 18), 11)), ("handed_off", "accepted", at(date(2026, 11, 18), 14))
        )
        assert _currents(client.get(reverse("okr:board")).content.decode()) == {"Quality": "71.43"}
