"""The customers app's lists are keyset-paged (no hard cap, no COUNT/OFFSET), and the customer 360's capped lists
link to their full, keyset-paged page."""

from datetime import date, timedelta

import pytest
from django.urls import reverse

from customers import selectors
from customers.models import Campaign, Channel, ChannelSpend, ImportJob, Order
from tests.factories import (
    CampaignFactory,
    ChannelFactory,
    ChannelSpendFactory,
    ComplaintFactory,
    CustomerFactory,
    ImportJobFactory,
    LeadFactory,
    NpsResponseFactory,
    OrderFactory,
)
from tests.paging import assert_fixed_queries, assert_walks, page_ids

pytestmark = pytest.mark.django_db


def _orders(n):
    channel = ChannelFactory()
    OrderFactory.create_batch(n, channel=channel)


def _channels(n):
    start = Channel.objects.count()
    for i in range(start, start + n):
        ChannelFactory(name=f"Channel {(i * 7) % 23:03d}")  # out of creation order, with ties


def _campaigns(n):
    channel = ChannelFactory()
    start = Campaign.objects.count()
    for i in range(start, start + n):
        starts_on = None if i % 6 == 0 else date(2026, 1, 1) + timedelta(days=(i * 5) % 13)
        CampaignFactory(channel=channel, starts_on=starts_on)


def _spend(n):
    start = ChannelSpend.objects.count()
    for i in range(start, start + n):
        month = date(2024 + (i * 5) % 3, 1 + (i * 7) % 12, 1)
        ChannelSpendFactory(channel=ChannelFactory(), month=month)


def _imports(n):
    ImportJobFactory.create_batch(n)


def _by_name():
    return [pk for pk, _name in sorted(Channel.objects.values_list("pk", "name"), key=lambda r: (r[1], r[0]))]


def _latest_start_first():
    rows = Campaign.objects.values_list("pk", "starts_on")
    return [pk for pk, _s in sorted(rows, key=lambda r: (r[1] is None, -(r[1].toordinal() if r[1] else 0), -r[0]))]


def _latest_month_first():
    rows = ChannelSpend.objects.values_list("pk", "month")
    return [pk for pk, _m in sorted(rows, key=lambda r: (r[1], r[0]), reverse=True)]


def _newest(model):
    return lambda: sorted(model.objects.values_list("pk", flat=True), reverse=True)


def _job_ids(response):
    return [job.pk for job in response.context["jobs"]]


LISTS = {
    # name: (role, make, expected order, page size, the rows a response shows)
    "customers:order-list": ("sales", _orders, _newest(Order), 50, page_ids),
    "customers:channel-list": ("marketing", _channels, _by_name, 50, page_ids),
    "customers:campaign-list": ("marketing", _campaigns, _latest_start_first, 50, page_ids),
    "customers:spend-list": ("service", _spend, _latest_month_first, 50, page_ids),
    "customers:import-list": ("marketing", _imports, _newest(ImportJob), 20, _job_ids),
}


@pytest.mark.parametrize("name", LISTS)
def test_list_query_count_does_not_grow(client_as, django_assert_max_num_queries, name):
    role, make, _expected, size, ids_of = LISTS[name]
    client = client_as(role)
    response = assert_fixed_queries(client, reverse(name), make, assert_max_num_queries=django_assert_max_num_queries)
    assert len(ids_of(response)) == size and response.context["next_url"]


@pytest.mark.parametrize("name", LISTS)
def test_next_links_show_every_row_once_in_order(client_as, name):
    role, make, expected, size, ids_of = LISTS[name]
    client = client_as(role)
    make(60)
    assert_walks(client, reverse(name), expected(), page_size=size, ids_of=ids_of)
    assert_walks(client, reverse(name) + "?size=9", expected(), page_size=9, ids_of=ids_of)


def test_order_list_pages_keep_the_customer_filter(client_as):
    customer = CustomerFactory()
    mine = [OrderFactory(customer=customer).pk for _ in range(5)]
    OrderFactory.create_batch(3)
    client = client_as("service")
    url = reverse("customers:order-list") + f"?customer={customer.pk}&size=2"
    assert_walks(client, url, sorted(mine, reverse=True), page_size=2)


def _customer_with(n):
    customer = CustomerFactory()
    for _ in range(n):
        OrderFactory(customer=customer)
        LeadFactory(customer=customer)
        ComplaintFactory(customer=customer)
        NpsResponseFactory(customer=customer)
    return customer


def test_customer_360_links_capped_lists_to_their_full_pages(client_as, monkeypatch):
    monkeypatch.setattr(selectors, "DETAIL_LIST_SIZE", 3)
    client = client_as("sales")
    short, long = _customer_with(3), _customer_with(5)
    _customer_with(2)  # someone else's rows stay off the full lists
    html = client.get(reverse("customers:customer-detail", args=[short.pk])).content.decode()
    assert 'data-testid="all-orders"' not in html and 'data-testid="all-complaints"' not in html
    response = client.get(reverse("customers:customer-detail", args=[long.pk]))
    customer = response.context["customer"]
    assert len(customer.recent_orders) == len(customer.recent_complaints) == len(customer.recent_nps) == 3
    html = response.content.decode()
    for testid, url, rows in (
        ("all-orders", customer.all_orders_url, long.orders.all()),
        ("all-complaints", customer.all_complaints_url, long.complaints.all()),
        ("all-nps", customer.all_nps_url, long.nps_responses.all()),
    ):
        assert f'href="{url}" data-testid="{testid}"' in html
        full = client.get(url)
        assert sorted(page_ids(full)) == sorted(r.pk for r in rows), testid
    assert len(customer.lead_rows) == 3
    assert f'href="{customer.all_leads_url}" data-testid="all-leads"' in html
    full = client.get(customer.all_leads_url)
    assert sorted(lead["pk"] for lead in full.context["leads"]) == sorted(long.leads.values_list("pk", flat=True))


def test_customer_360_queries_do_not_grow_with_the_show_all_links(client_as, django_assert_max_num_queries):
    client = client_as("sales")
    small, big = _customer_with(1), _customer_with(selectors.DETAIL_LIST_SIZE + 2)
    client.get(reverse("customers:customer-detail", args=[small.pk]))
    # 28: the 360 before commerce (26), the loyalty panel's points entries and "Recommended next".
    with django_assert_max_num_queries(28) as queries:
        client.get(reverse("customers:customer-detail", args=[small.pk]))
    with django_assert_max_num_queries(len(queries.captured_queries)):
        response = client.get(reverse("customers:customer-detail", args=[big.pk]))
    assert response.context["customer"].all_orders_url
