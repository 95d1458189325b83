"""The loyalty panel of the customer page, its redeem/adjust form (page and htmx), the ledger page, and the admin:
the read-only ledger, an adjustment through it, and the customer's balance link."""

import pytest
from django.urls import reverse

from customers import loyalty
from customers.models import PointsEntry
from tests.customers.loyalty_support import NOW, at, balance, frozen_clock
from tests.factories import (
    ComplaintFactory,
    CustomerFactory,
    CustomerIdentityFactory,
    LeadFactory,
    NpsResponseFactory,
    OrderFactory,
    TagFactory,
    make_user,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock(settings):
    yield from frozen_clock(settings)


def member(amount="6000.00"):
    customer = CustomerFactory(name="Mei")
    order = OrderFactory(customer=customer, amount=amount, ordered_at=at("2026-02-01 10:00"))
    loyalty.earn_for_order(order)
    loyalty.recompute_tiers([customer.pk])
    return customer


def detail(customer) -> str:
    return reverse("customers:customer-detail", args=[customer.pk])


def points_url(customer) -> str:
    return reverse("customers:customer-points", args=[customer.pk])


def test_the_panel_shows_tier_balance_membership_and_the_newest_entries(clock, client_as):
    customer = member()
    loyalty.redeem(customer=customer, points=500, reason="Tea set", by=make_user("sales"))
    html = client_as("marketing").get(detail(customer)).content.decode()
    assert 'data-testid="loyalty"' in html
    assert "Silver" in html.split('data-testid="loyalty-tier"')[1][:120]
    assert '<dd data-testid="points-balance">5,500</dd>' in html
    assert html.count('data-testid="points-entry"') == 2
    assert "Tea set" in html and 'data-testid="all-points"' in html
    assert 'name="kind"' in html and '<option value="redeem"' in html and '<option value="adjust"' not in html


def test_a_manager_may_adjust_from_the_page(clock, client_as):
    html = client_as("service_manager").get(detail(member())).content.decode()
    assert '<option value="redeem"' in html and '<option value="adjust"' in html


def test_a_non_member_shows_as_such(clock, client_as):
    html = client_as("sales").get(detail(CustomerFactory())).content.decode()
    assert "Not a member" in html and '<dd data-testid="points-balance">0</dd>' in html


def test_redeeming_on_the_page_redirects_back_to_the_panel(clock, client_as):
    customer = member()
    response = client_as("service").post(points_url(customer), {"kind": "redeem", "points": "250", "reason": "Mug"})
    assert response.status_code == 302 and response["Location"].endswith("#loyalty")
    assert balance(customer) == 5750
    assert PointsEntry.objects.filter(customer=customer, kind="redeem", points=-250, reason="Mug").exists()


def test_htmx_gets_the_panel_back_and_refusals_on_their_field(clock, client_as):
    customer = member("100.00")
    client = client_as("sales_manager")
    done = client.post(
        points_url(customer), {"kind": "adjust", "points": "-30", "reason": "Fix"}, HTTP_HX_REQUEST="true"
    )
    assert done.status_code == 200 and done.templates[0].name == "customers/_loyalty.html"
    assert '<dd data-testid="points-balance">70</dd>' in done.content.decode()
    assert "HX-Request" in done["Vary"]
    over = client.post(points_url(customer), {"kind": "redeem", "points": "71"}, HTTP_HX_REQUEST="true")
    assert over.status_code == 422 and 'data-field="points"' in over.content.decode()
    no_reason = client.post(points_url(customer), {"kind": "adjust", "points": "5"}, HTTP_HX_REQUEST="true")
    assert no_reason.status_code == 422 and 'data-field="reason"' in no_reason.content.decode()
    assert balance(customer) == 70


def test_without_htmx_a_refusal_re_renders_the_customer_page(clock, client_as):
    customer = member("100.00")
    response = client_as("sales").post(points_url(customer), {"kind": "redeem", "points": "500"})
    assert response.status_code == 409
    assert response.templates[0].name == "customers/customer_detail.html"
    assert 'data-field="points"' in response.content.decode()


def test_staff_may_not_adjust_nor_choose_an_unknown_kind(clock, client_as):
    customer = member("100.00")
    client = client_as("marketing")
    response = client.post(points_url(customer), {"kind": "adjust", "points": "5", "reason": "Gift"})
    assert response.status_code == 422 and 'data-field="kind"' in response.content.decode()  # not offered
    assert balance(customer) == 100


def test_the_ledger_page_lists_every_entry_in_keyset_pages(clock, client_as):
    customer = member("100.00")
    manager = make_user("sales_manager")
    for n in range(1, 4):
        loyalty.adjust(customer=customer, points=n, reason=f"Gift {n}", by=manager, now=at(f"2026-03-0{n} 12:00"))
    client = client_as("service")
    first = client.get(points_url(customer), {"size": 2})
    assert first.status_code == 200
    assert [cells[3] for _pk, cells, _link in first.context["rows"]] == ["Gift 3", "Gift 2"]
    assert first.context["rows"][0][1][2] == "+3"
    second = client.get(first.context["next_url"])
    assert [cells[3] for _pk, cells, _link in second.context["rows"]] == [
        "Gift 1",
        f"Order #{customer.orders.get().pk}",
    ]
    assert "Mei: 106" in first.content.decode()


@pytest.mark.parametrize("n", [1, 40])
def test_the_ledger_page_queries_do_not_grow(clock, client_as, django_assert_max_num_queries, n):
    customer = member("100.00")
    manager = make_user("sales_manager")
    PointsEntry.objects.bulk_create(
        [PointsEntry(customer=customer, kind="adjust", points=1, reason="x", at=NOW, created_by=manager)] * n
    )
    client = client_as("sales")
    client.get(points_url(customer))
    # session, user, groups, notifications, customer, entries with who recorded them
    with django_assert_max_num_queries(6):
        response = client.get(points_url(customer), {"size": 200})
    assert len(response.context["rows"]) == n + 1


def _rich(n: int):
    customer = member("900.00")
    manager = make_user("sales_manager")
    for index in range(n):
        CustomerIdentityFactory(customer=customer)
        OrderFactory(customer=customer)
        LeadFactory(customer=customer).tags.add(TagFactory())
        ComplaintFactory(customer=customer)
        NpsResponseFactory(customer=customer)
        loyalty.adjust(customer=customer, points=index + 1, reason="Gift", by=manager)
    return customer


def test_the_customer_page_with_loyalty_keeps_a_fixed_query_count(clock, client_as, django_assert_max_num_queries):
    client = client_as("marketing_manager")
    small, big = _rich(1), _rich(12)
    client.get(detail(small))
    # 28: the 360 before commerce (26), this panel's newest points entries, and the recommendations
    with django_assert_max_num_queries(28) as small_queries:
        client.get(detail(small))
    with django_assert_max_num_queries(len(small_queries.captured_queries)):
        response = client.get(detail(big))
    assert response.content.decode().count('data-testid="points-entry"') == 10  # the newest ten


# --- admin ---------------------------------------------------------------------------------------------------------


def test_the_admin_ledger_is_read_only(clock, client_as):
    customer = member("100.00")
    entry = PointsEntry.objects.get(customer=customer)
    client = client_as("sales_manager")
    listing = client.get(reverse("admin:customers_pointsentry_changelist") + f"?customer__id__exact={customer.pk}")
    assert listing.status_code == 200 and f"Order #{entry.order_id}" in listing.content.decode()
    page = client.get(reverse("admin:customers_pointsentry_change", args=[entry.pk]))
    assert page.status_code == 200 and 'name="points"' not in page.content.decode()
    assert client.post(reverse("admin:customers_pointsentry_change", args=[entry.pk]), {"points": 1}).status_code == 403
    assert (
        client.post(reverse("admin:customers_pointsentry_delete", args=[entry.pk]), {"post": "yes"}).status_code == 403
    )
    assert PointsEntry.objects.get(pk=entry.pk).points == 100


def test_an_adjustment_in_the_admin_goes_through_the_ledger(clock, client_as):
    customer = member("100.00")
    client = client_as("marketing_manager")
    add = reverse("admin:customers_pointsentry_add")
    missing = client.post(add, {"customer": customer.pk, "kind": "adjust", "points": "20", "reason": ""})
    assert missing.status_code == 200 and missing.context["adminform"].form.errors["reason"]
    over = client.post(add, {"customer": customer.pk, "kind": "adjust", "points": "-101", "reason": "Fix"})
    assert over.status_code == 200 and over.context["adminform"].form.errors["points"]
    done = client.post(add, {"customer": customer.pk, "kind": "adjust", "points": "20", "reason": "Birthday"})
    assert done.status_code == 302
    assert balance(customer) == 120
    entry = PointsEntry.objects.get(customer=customer, kind="adjust")
    assert (entry.points, entry.reason, entry.created_by) == (20, "Birthday", client.user)


def test_staff_redeem_but_do_not_adjust_in_the_admin(clock, client_as):
    customer = member("100.00")
    client = client_as("sales")
    add = reverse("admin:customers_pointsentry_add")
    refused = client.post(add, {"customer": customer.pk, "kind": "adjust", "points": "20", "reason": "Gift"})
    assert refused.status_code == 200 and refused.context["adminform"].form.errors["kind"]
    assert client.post(add, {"customer": customer.pk, "kind": "redeem", "points": "30"}).status_code == 302
    assert balance(customer) == 70


def test_the_customer_admin_shows_tier_and_links_the_ledger(clock, client_as):
    customer = member()
    html = client_as("admin").get(reverse("admin:customers_customer_change", args=[customer.pk])).content.decode()
    assert "Silver" in html
    assert f'?customer__id__exact={customer.pk}">6000</a>' in html
