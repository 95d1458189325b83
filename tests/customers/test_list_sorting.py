"""The customer, order, campaign and channel spend lists sort by their column headers (`?sort=`), the API by
`?ordering=` with the same keys (each list's FilterSet.ordering); pages stay exact in every order."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from customers.models import Campaign, ChannelSpend, Customer, Order
from tests.factories import CampaignFactory, ChannelFactory, ChannelSpendFactory, CustomerFactory, OrderFactory
from tests.paging import assert_fixed_queries, walk

pytestmark = pytest.mark.django_db
BASE = timezone.now() - timedelta(days=400)
NAMES = ["Zhou", "An", "Li", "Wang", "Li", "Chen", "Zhao"]  # ties ("Li") broken by pk; one case: collations agree


def _customers(n: int) -> None:
    for i in range(n):
        customer = CustomerFactory(name=NAMES[i % len(NAMES)], company=f"Co {i % 3}", city=f"City {i % 4}")
        Customer.objects.filter(pk=customer.pk).update(created_at=BASE + timedelta(hours=i % 5))


def _orders(n: int) -> None:
    for i in range(n):
        OrderFactory(amount=Decimal(100 + (i % 4) * 10), ordered_at=BASE + timedelta(days=i % 6))


def _campaigns(n: int) -> None:
    channel = ChannelFactory()
    for i in range(n):
        CampaignFactory(
            channel=channel,
            name=NAMES[i % len(NAMES)],
            starts_on=None if i % 5 == 0 else date(2025, 1, 1) + timedelta(days=i % 3),
            ends_on=date(2025, 6, 1) + timedelta(days=i % 4),
            budget=None if i % 4 == 0 else Decimal(1000 * (i % 3)),
        )


def _spend(n: int) -> None:
    for i in range(n):
        ChannelSpendFactory(channel=ChannelFactory(), month=date(2020 + i // 12, i % 12 + 1, 1), amount=i % 3)


def _key(field):
    """A Python sort key equal to the list's order: the value, nulls last ascending (first descending), then pk."""

    def key(obj, descending):
        value = getattr(obj, field)
        missing = value is None
        return ((missing != descending), value if not missing else 0, obj.pk)

    return key


LISTS = {
    # list URL name, model, make(n), {sort key: model field}, default sort
    "customers": (
        "customers:customer-list",
        Customer,
        _customers,
        {"id": "pk", "name": "name", "company": "company", "city": "city", "created": "created_at"},
    ),
    "orders": ("customers:order-list", Order, _orders, {"id": "pk", "ordered": "ordered_at", "amount": "amount"}),
    "campaigns": (
        "customers:campaign-list",
        Campaign,
        _campaigns,
        {"name": "name", "starts": "starts_on", "ends": "ends_on", "budget": "budget"},
    ),
    "spend": ("customers:spend-list", ChannelSpend, _spend, {"month": "month", "amount": "amount"}),
}


def _ids(response) -> list[int]:
    if "customers" in response.context:
        return [customer.pk for customer in response.context["customers"]]
    return [pk for pk, _cells, _link in response.context["rows"]]


def _cases():
    for kind, (_url, _model, _make, sorts) in LISTS.items():
        for key in sorts:
            yield kind, key


@pytest.mark.parametrize(("kind", "key"), list(_cases()))
@pytest.mark.parametrize("descending", [False, True])
def test_each_sortable_header_sorts_both_ways_and_the_pages_walk_it(client_as, kind, key, descending):
    url_name, model, make, sorts = LISTS[kind]
    make(17)
    key_of = _key(sorts[key])
    expected = [obj.pk for obj in sorted(model.objects.all(), key=lambda o: key_of(o, descending), reverse=descending)]
    sort = f"{'-' if descending else ''}{key}"
    pages = walk(client_as("marketing"), f"{reverse(url_name)}?sort={sort}&size=4", ids_of=_ids)
    assert [pk for page in pages for pk in page] == expected


@pytest.mark.parametrize("kind", LISTS)
def test_an_unknown_sort_is_the_default_order(client_as, kind):
    url_name, _model, make, _sorts = LISTS[kind]
    make(4)
    client = client_as("sales")
    default = _ids(client.get(reverse(url_name)))
    assert _ids(client.get(reverse(url_name), {"sort": "password"})) == default


@pytest.mark.parametrize("kind", LISTS)
def test_sorted_lists_cost_the_same_queries_for_1_row_as_for_30(client_as, django_assert_max_num_queries, kind):
    url_name, _model, make, sorts = LISTS[kind]
    sort = "-" + list(sorts)[-1]
    assert_fixed_queries(
        client_as("marketing_manager"),
        f"{reverse(url_name)}?sort={sort}",
        make,
        assert_max_num_queries=django_assert_max_num_queries,
        few=1,
        many=30,
    )


def test_the_order_list_filters_with_its_filterset(client_as):
    kept = OrderFactory(external_id="X-1")
    OrderFactory(external_id="X-2")
    client = client_as("sales")
    assert _ids(client.get(reverse("customers:order-list"), {"customer": kept.customer_id})) == [kept.pk]
    assert _ids(client.get(reverse("customers:order-list"), {"external_id": "X-1"})) == [kept.pk]
    response = client.get(reverse("customers:order-list"), {"customer": "abc"})  # shown on the form, not a 500
    assert response.status_code == 200 and 'data-field="customer"' in response.content.decode()


# --- the API ---------------------------------------------------------------------------------------------------

API = {
    "customers": ("/api/v1/customers/", Customer, _customers, {"name": "name", "created": "created_at"}),
    "orders": ("/api/v1/orders/", Order, _orders, {"amount": "amount", "ordered": "ordered_at"}),
    "campaigns": ("/api/v1/campaigns/", Campaign, _campaigns, {"starts": "starts_on", "budget": "budget"}),
    "channel-spend": ("/api/v1/channel-spend/", ChannelSpend, _spend, {"amount": "amount"}),
}


@pytest.mark.parametrize("kind", API)
def test_api_ordering_walks_every_row_once_in_order(api_as, kind):
    url, model, make, sorts = API[kind]
    make(23)
    api = api_as("sales")
    for key, field in sorts.items():
        for descending in (False, True):
            key_of = _key(field)
            expected = [
                o.pk for o in sorted(model.objects.all(), key=lambda o: key_of(o, descending), reverse=descending)
            ]
            seen, next_url = [], f"{url}?ordering={'-' if descending else ''}{key}&page_size=4"
            while next_url:
                body = api.get(next_url).json()
                seen += [row["id"] for row in body["results"]]
                next_url = body["next"]
            assert seen == expected, (key, descending)
