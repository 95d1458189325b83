"""The touchpoints page (filters, keyset paging, htmx rows, every role, a fixed number of queries), the marketing menu,
touchpoints on the customer timeline, and the read-only touchpoint admin."""

from datetime import datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from marketing.models import Touchpoint
from tests.conftest import ROLES
from tests.factories import CampaignFactory, ChannelFactory, CustomerFactory, TouchpointFactory

pytestmark = pytest.mark.django_db

NOW = datetime.fromisoformat("2026-03-10T10:00:00+08:00")
LIST = reverse("marketing:touchpoint-list")


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=False):
        yield


def _rows(response) -> list[int]:
    return [touchpoint.pk for touchpoint in response.context["page"]]


@pytest.mark.parametrize("role", ROLES)
def test_every_role_reads_the_touchpoints_page_and_finds_it_in_the_menu(client_as, role):
    douyin = ChannelFactory(code="douyin", name="Douyin")
    touchpoint = TouchpointFactory(
        customer=CustomerFactory(name="Chen Jing"),
        channel=douyin,
        campaign=CampaignFactory(channel=douyin, name="Spring launch"),
        kind="scan",
    )
    response = client_as(role).get(LIST)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Chen Jing" in page and "Store scan" in page and "Spring launch" in page
    assert _rows(response) == [touchpoint.pk]
    assert f'href="{LIST}" data-testid="nav-touchpoints"' in page
    assert '<option value="douyin">Douyin</option>' in page  # the channel filter offers every channel


def test_anonymous_is_sent_to_log_in(client):
    response = client.get(LIST)
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_the_filters_narrow_the_rows_and_htmx_gets_the_rows_alone(client_as):
    douyin, wechat = ChannelFactory(code="douyin"), ChannelFactory(code="wechat")
    campaign = CampaignFactory(channel=douyin)
    ana, bo = CustomerFactory(), CustomerFactory()
    at = NOW - timedelta(days=3)
    impression = TouchpointFactory(customer=ana, channel=douyin, campaign=campaign, kind="impression", at=at)
    click = TouchpointFactory(customer=ana, channel=wechat, kind="click", at=at + timedelta(hours=1))
    visit = TouchpointFactory(customer=bo, channel=douyin, kind="visit", at=at + timedelta(hours=2))
    client = client_as("marketing")
    assert _rows(client.get(LIST)) == [visit.pk, click.pk, impression.pk]
    assert _rows(client.get(LIST, {"channel": "douyin"})) == [visit.pk, impression.pk]
    assert _rows(client.get(LIST, {"kind": "click"})) == [click.pk]
    assert _rows(client.get(LIST, {"campaign": campaign.pk})) == [impression.pk]
    assert _rows(client.get(LIST, {"customer": ana.pk, "channel": "douyin"})) == [impression.pk]
    period = {"at_after": "2026-03-07T10:30", "at_before": "2026-03-07T11:30"}  # local times, as the form sends
    assert _rows(client.get(LIST, period)) == [click.pk]
    chosen = client.get(LIST, {"channel": "wechat", "kind": "click"}).content.decode()
    assert 'value="wechat" selected' in chosen and 'value="click" selected' in chosen

    partial = client.get(LIST, {"kind": "visit"}, HTTP_HX_REQUEST="true")
    assert _rows(partial) == [visit.pk]
    assert "<html" not in partial.content.decode() and 'data-testid="touchpoint-row"' in partial.content.decode()
    assert partial["Vary"].count("HX-Request") == 1

    bad = client.get(LIST, {"kind": "view"})
    assert bad.status_code == 200 and 'data-field="kind"' in bad.content.decode()
    assert _rows(bad) == [visit.pk, click.pk, impression.pk]  # the whole list, with the filter's error shown


def test_the_page_walks_forward_and_back_without_repeats(client_as):
    customer, channel = CustomerFactory(), ChannelFactory()
    made = [TouchpointFactory(customer=customer, channel=channel, at=NOW - timedelta(minutes=i // 2)) for i in range(7)]
    client = client_as("marketing")
    first = client.get(LIST, {"size": 3})
    second = client.get(first.context["next_url"])
    third = client.get(second.context["next_url"])
    expected = [t.pk for t in sorted(made, key=lambda t: (t.at, t.pk), reverse=True)]
    assert _rows(first) + _rows(second) + _rows(third) == expected
    assert not third.context["next_url"]
    assert _rows(client.get(second.context["previous_url"])) == _rows(first)


@pytest.mark.parametrize("n", [2, 30])
def test_the_page_queries_do_not_grow(client_as, django_assert_max_num_queries, n):
    client = client_as("marketing")
    channel = ChannelFactory()
    campaign = CampaignFactory(channel=channel)
    for i in range(n):
        TouchpointFactory(channel=channel, campaign=campaign if i % 2 else None)
    # session, user, groups, unread notifications, the channel filter's options, rows with their customer, channel
    # and campaign
    with django_assert_max_num_queries(6):
        response = client.get(LIST)
    assert len(_rows(response)) == n


def test_the_customer_timeline_shows_the_customers_touchpoints(client_as, api_as):
    customer = CustomerFactory()
    douyin = ChannelFactory(code="douyin", name="Douyin")
    TouchpointFactory(
        customer=customer,
        channel=douyin,
        campaign=CampaignFactory(channel=douyin, name="Spring launch"),
        kind="impression",
        at=NOW - timedelta(days=2),
    )
    TouchpointFactory(customer=customer, channel=ChannelFactory(code="store", name="Store"), kind="scan", at=NOW)
    TouchpointFactory(customer=CustomerFactory(), channel=douyin)  # somebody else's
    response = client_as("service").get(reverse("customers:customer-detail", args=[customer.pk]))
    entries = [e for e in response.context["timeline"] if e.kind.startswith("touchpoint.")]
    assert [(e.kind, e.text) for e in entries] == [
        ("touchpoint.scan", "Store scan on Store"),
        ("touchpoint.impression", "Impression on Douyin (campaign Spring launch)"),
    ]
    assert entries[0].url == f"{LIST}?customer={customer.pk}"
    assert "Impression on Douyin (campaign Spring launch)" in response.content.decode()
    timeline = api_as("sales").get(f"/api/v1/customers/{customer.pk}/timeline/").json()["results"]
    assert [e["kind"] for e in timeline if e["kind"].startswith("touchpoint.")] == [
        "touchpoint.scan",
        "touchpoint.impression",
    ]


# ---------------------------------------------------------------- admin


def test_the_admin_lists_filters_and_searches_touchpoints_but_never_writes_them(client_as):
    douyin = ChannelFactory(code="douyin")
    touchpoint = TouchpointFactory(customer=CustomerFactory(name="Sun Li"), channel=douyin, external_id="dy-42")
    TouchpointFactory(customer=CustomerFactory(name="Somebody Else"), kind="scan")
    client = client_as("marketing_manager")
    changelist = reverse("admin:marketing_touchpoint_changelist")
    assert [t.pk for t in client.get(changelist, {"q": "dy-42"}).context["cl"].result_list] == [touchpoint.pk]
    assert [t.pk for t in client.get(changelist, {"q": "Sun Li"}).context["cl"].result_list] == [touchpoint.pk]
    by_channel = client.get(changelist, {"channel__id__exact": douyin.pk}).context["cl"].result_list
    assert [t.pk for t in by_channel] == [touchpoint.pk]
    assert [t.pk for t in client.get(changelist, {"kind__exact": "click"}).context["cl"].result_list] == [touchpoint.pk]
    assert client.get(reverse("admin:marketing_touchpoint_add")).status_code == 403
    change = reverse("admin:marketing_touchpoint_change", args=[touchpoint.pk])
    assert client.get(change).status_code == 200
    client.post(change, {"kind": "visit", "external_id": "hacked"})
    touchpoint.refresh_from_db()
    assert (touchpoint.kind, touchpoint.external_id) == ("click", "dy-42")
    assert (
        client.post(reverse("admin:marketing_touchpoint_delete", args=[touchpoint.pk]), {"post": "yes"}).status_code
        == 403
    )
    assert Touchpoint.objects.count() == 2


@pytest.mark.parametrize("n", [2, 30])
def test_the_admin_list_queries_do_not_grow(client_as, django_assert_max_num_queries, n):
    client = client_as("admin")
    channel = ChannelFactory()
    TouchpointFactory.create_batch(n, channel=channel, campaign=CampaignFactory(channel=channel))
    # session, user, groups, unread notifications, the channel filter's choices, the count, the rows with their
    # customer, channel and campaign, the date hierarchy's bounds and its days
    with django_assert_max_num_queries(9):
        response = client.get(reverse("admin:marketing_touchpoint_changelist"))
    assert len(response.context["cl"].result_list) == n


@pytest.mark.parametrize("role", ["sales", "service", "admin"])
def test_every_department_views_the_touchpoint_admin(client_as, role):
    TouchpointFactory()
    assert client_as(role).get(reverse("admin:marketing_touchpoint_changelist")).status_code == 200
