"""loyalty_members_active (the metric API) and the loyalty report: repurchase rate and LTV per loyalty tier, against
hand-computed fixtures, for every role, at a fixed query count."""

from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.urls import reverse

from customers import loyalty, services
from okr import metrics, reports
from okr.metrics import Period
from tests.factories import CustomerFactory, CustomerIdentityFactory, OrderFactory, make_user
from tests.okr.conftest import at

pytestmark = pytest.mark.django_db

START, END = date(2026, 3, 1), date(2026, 4, 1)
MARCH = Period(START, END)


def D(month, day, year=2026):  # noqa: N802 - a short date helper for fixtures
    return date(year, month, day)


def order(customer, amount: str, day: date, **fields):
    return OrderFactory(customer=customer, amount=Decimal(amount), ordered_at=at(day, 12), **fields)


def test_members_active_counts_members_at_the_end_with_an_order_in_the_period(metric):
    a, b, card, april, nobody, merged, newcomer = (
        CustomerFactory(name=n) for n in ("A", "B", "Card", "April", "Nobody", "Merged", "Newcomer")
    )
    order(a, "10", D(1, 10))
    order(a, "10", D(3, 5))  # a member since January, active in March
    order(b, "10", D(12, 1, 2025))
    order(b, "10", D(3, 6), cancelled_at=at(D(3, 7)), cancel_reason="Returned")  # cancelled: B stays inactive
    CustomerIdentityFactory(customer=card, kind="member_card", value="VIP-1")  # a card since today: after March
    order(april, "10", D(4, 2))  # a member from April on
    order(merged, "10", D(2, 1))
    order(newcomer, "10", D(3, 20))  # joined and active in March
    loyalty.recompute_tiers(None)
    services.merge_customers(survivor=a, duplicate=merged, by=make_user("sales_manager"))
    body = metric("loyalty_members_active", START, END)
    # members at the end of March: A, B, Newcomer (Card, April joined later; Merged is a tombstone; Nobody never)
    assert (body["value"], body["members"], body["active_members"], body["sample_size"]) == (0.6667, 3, 2, 3)


def test_members_active_is_null_without_members(metric):
    order(CustomerFactory(), "10", D(5, 1))
    loyalty.recompute_tiers(None)
    assert metric("loyalty_members_active", START, END)["value"] is None


@pytest.fixture
def tiers():
    """Five customers with orders in March, tiered as of 1 April (trailing 12 months from 2025-04-01)."""
    g1, g2, s1, m1, m2, x = (CustomerFactory(name=n) for n in ("g1", "g2", "s1", "m1", "m2", "x"))
    order(g1, "15000", D(3, 2))
    order(g1, "6000", D(3, 20))  # two in March: repeats; first order in March: LTV 21,000
    order(g2, "19000", D(10, 1, 2025))
    order(g2, "2000", D(3, 3))  # an earlier order: repeats; not a newcomer
    order(s1, "5000", D(3, 4))
    order(s1, "1000", D(6, 1))  # after March: no repeat by the end, but LTV to date 6,000
    order(m1, "100", D(3, 5))
    order(m1, "900", D(3, 6), cancelled_at=at(D(3, 8)), cancel_reason="Returned")  # counts nowhere
    order(m2, "50", D(2, 1))
    order(m2, "60", D(3, 7))  # repeats; not a newcomer
    order(x, "70", D(1, 1))  # no order in March
    loyalty.recompute_tiers(None, now=at(D(4, 1)))
    return g1, g2, s1, m1, m2, x


def test_repurchase_and_ltv_by_tier(tiers, metric):
    data = reports.loyalty(MARCH)

    def figures(row):
        repurchase, ltv = row["repurchase"], row["ltv"]
        return (repurchase["customers"], repurchase["repeat_customers"], repurchase["value"]), (
            ltv["customers"],
            ltv["value"],
        )

    by_tier = {row["tier"]: figures(row) for row in data["by_tier"]}
    assert list(by_tier) == ["platinum", "gold", "silver", "member", "none"]
    assert by_tier["gold"] == ((2, 2, 1.0), (1, 21000.0))
    assert by_tier["silver"] == ((1, 0, 0.0), (1, 6000.0))
    assert by_tier["member"] == ((2, 1, 0.5), (1, 100.0))
    assert by_tier["platinum"] == by_tier["none"] == ((0, 0, None), (0, None))
    # the same figures through the metric API's tier filter; a tier that is none of them is a 400 naming it
    assert metric("repurchase_rate", START, END, tier="gold")["repeat_customers"] == 2
    assert metric("ltv", START, END, tier="silver")["value"] == 6000.0
    # everyone: 3 of 5 repeat; LTV (21,000 + 6,000 + 100) ÷ 3 — the same as the registry's metrics
    assert (data["repurchase"]["value"], data["repurchase"]["customers"]) == (0.6, 5)
    assert (data["ltv"]["value"], data["ltv"]["customers"]) == (9033.33, 3)
    tiers_total = sum(row["repurchase"]["customers"] for row in data["by_tier"])
    assert tiers_total == metrics.repurchase_rate(MARCH, {})["customers"]


@pytest.mark.parametrize("role", ["marketing", "sales", "service", "sales_manager", "admin"])
def test_the_loyalty_report_page_for_every_role(tiers, client_as, role):
    response = client_as(role).get(reverse("okr:report-loyalty"), {"start": "2026-03-01", "end": "2026-04-01"})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-tier="gold"' in html and "100.0 %" in html and "CNY" in html
    assert response.context["data"]["members"]["members"] == 6  # all six ordered by the end of March (x in January)


def test_the_loyalty_report_as_csv(tiers, client_as):
    response = client_as("service").get(
        reverse("okr:report-loyalty"), {"start": "2026-03-01", "end": "2026-04-01", "format": "csv"}
    )
    lines = response.content.decode("utf-8-sig").strip().splitlines()
    assert lines[0] == "tier,customers_ordering,repeat_customers,repurchase_rate,newcomers,ltv"
    assert lines[2:] == ["gold,2,2,1.0,1,21000.0", "silver,1,0,0.0,1,6000.0", "member,2,1,0.5,1,100.0", "none,0,0,,0,"]


def test_a_bad_period_is_refused_on_its_field(client_as):
    response = client_as("sales").get(reverse("okr:report-loyalty"), {"start": "2026-04-01", "end": "2026-03-01"})
    assert response.status_code == 400 and response.context["form"].errors["end"]


def test_anonymous_is_sent_to_log_in(client):
    assert client.get(reverse("okr:report-loyalty")).status_code == 302


@pytest.mark.parametrize("n", [1, 25])
def test_the_report_runs_a_fixed_number_of_queries(client_as, django_assert_max_num_queries, n):
    for index in range(n):
        customer = CustomerFactory()
        order(customer, "100", D(2, 1))
        order(customer, str(1000 * (index + 1)), D(3, 1))
    loyalty.recompute_tiers(None, now=at(D(4, 1)))
    client = client_as("marketing")
    client.get(reverse("okr:report-loyalty"))
    # session, user, groups, notifications, then members, repurchase and LTV for everyone and each of the five
    # tier rows; on PostgreSQL the metrics' plain plans add a savepoint, its SET LOCAL and its release
    with django_assert_max_num_queries(20 if connection.vendor == "postgresql" else 17):
        response = client.get(reverse("okr:report-loyalty"), {"start": "2026-03-01", "end": "2026-04-01"})
    assert response.context["data"]["repurchase"]["customers"] == n


def test_an_unknown_tier_filter_is_refused_on_its_field(api_as):
    response = api_as("sales").get("/api/v1/metrics/ltv/", {"start": "2026-03-01", "end": "2026-04-01", "tier": "gem"})
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "tier"
    response = api_as("sales").get("/api/v1/metrics/nps/", {"start": "2026-03-01", "end": "2026-04-01", "tier": "gold"})
    assert response.status_code == 400
