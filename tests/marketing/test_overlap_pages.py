"""The channel overlap page (`/marketing/channels/overlap/`, "marketing:channel-overlap") and its exclusion-list
downloads: the hand-computed fixture of tests/marketing/overlap_support.py in the table, the totals and the heat
map; refused filters shown on their field (400); who sees and downloads what; a fixed query count."""

import hashlib
import re

import pytest
import time_machine
from django.db import connection
from django.urls import reverse

from tests.conftest import ROLES
from tests.factories import ChannelFactory, CustomerFactory, TouchpointFactory, UserFactory
from tests.marketing.overlap_support import NOW, at, build

pytestmark = pytest.mark.django_db

PAGE = "/marketing/channels/overlap/"
NOVEMBER = {"start": "2026-11-01", "end": "2026-12-01"}


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def fixture(api_as):
    return build(api_as)


def _row(html: str, code: str) -> str:
    return html.split(f'<tr data-channel="{code}">', 1)[1].split("</tr>", 1)[0]


def _col(row: str, name: str) -> str:
    return re.search(rf'data-col="{name}">([^<]*)<', row).group(1)


def _field_error(html: str, field: str) -> str:
    found = re.search(rf'<div class="error" data-field="{field}">([^<]*)</div>', html)
    assert found, f"no error on {field}"
    return found.group(1)


def test_the_table_the_totals_and_the_heat_map(client_as, fixture):
    response = client_as("sales").get(PAGE, NOVEMBER)
    assert response.status_code == 200
    html = response.content.decode()
    wechat = _row(html, "wechat")
    assert [_col(wechat, c) for c in ("reach", "exclusive", "duplicate", "touches")] == ["5", "1", "4", "8"]
    assert _col(wechat, "spend") == "CNY\u00a03,000.00" and _col(wechat, "wasted_spend") == "CNY\u00a02,400.00"
    assert "80 %" in wechat and "1.60" in wechat  # duplicate share 4/5, frequency 8/5
    fair = _row(html, "fair")
    assert _col(fair, "reach") == "0" and _col(fair, "wasted_spend") == "—"
    assert 'data-total="duplicate_reach_rate">50 %<' in html
    assert 'data-total="wasted_spend">CNY\u00a04,266.67<' in html
    assert 'data-total="reached">8<' in html and 'data-total="multi_channel">4<' in html
    assert '<tr data-channel="store">' not in html  # touched only in October

    heat = html.split('data-testid="overlap-heatmap"', 1)[1].split("</figure>", 1)[0]
    assert "<svg" in heat and "style=" not in heat  # coloured by class: the CSP refuses style attributes
    cell = heat.split('data-row="web" data-column="wechat">', 1)[1].split("</g>", 1)[0]
    assert "<title>Website and WeChat both reached 2 customers: 66.7 % of Website&#x27;s reach</title>" in cell
    assert ">2</text>" in cell and ">66.7 %</text>" in cell
    assert 'class="cell heat-7 dark" data-row="web" data-column="wechat"' in heat  # 0.6667 → step 7
    assert 'class="cell heat-self" data-row="douyin" data-column="douyin"' in heat
    assert heat.count('class="cell ') == 16  # four channels, every pair


def test_filters_keep_the_figures_of_the_service(client_as, fixture):
    client = client_as("marketing")
    html = client.get(PAGE, {**NOVEMBER, "kind": "impression"}).content.decode()
    assert 'data-total="duplicate_reach_rate">20 %<' in html
    html = client.get(PAGE, {**NOVEMBER, "campaign": fixture["campaign"].pk}).content.decode()
    assert 'data-total="reached">1<' in html and "Website November" in html  # the picker shows the campaign
    html = client.get(f"{PAGE}?start=2026-11-01&end=2026-12-01&channel=wechat&channel=web").content.decode()
    assert re.findall(r'<tr data-channel="([a-z]+)">', html) == ["wechat", "web"]
    assert 'data-total="duplicate_reach_rate">33.3 %<' in html


def test_this_month_by_default_and_the_presets(client_as, fixture):
    html = client_as("sales").get(PAGE).content.decode()
    assert 'value="2026-12-01"' in html and 'value="2027-01-01"' in html  # December, today being 10 December
    last_month = re.search(r'<a class="button primary" href="([^"]+)" data-preset="this_month"', html)
    assert last_month, "this month is the active preset"
    link = re.search(r'href="\?([^"]+)" data-preset="last_month"', html).group(1).replace("&amp;", "&")
    assert "start=2026-11-01" in link and "end=2026-12-01" in link
    html = client_as("sales").get(f"{PAGE}?{link}").content.decode()
    assert 'data-total="reached">8<' in html


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"start": "2026-11-01", "end": "2026-11-01"}, "end"),
        ({"start": "2025-01-01", "end": "2027-01-02"}, "end"),
        ({"start": "not a day", "end": "2026-12-01"}, "start"),
        ({**NOVEMBER, "channel": "nope"}, "channel"),
        ({**NOVEMBER, "kind": "letter"}, "kind"),
        ({**NOVEMBER, "campaign": "999999"}, "campaign"),
    ],
)
def test_refused_filters_show_on_their_field(client_as, fixture, query, field):
    response = client_as("marketing").get(PAGE, query)
    assert response.status_code == 400
    assert _field_error(response.content.decode(), field)


def test_twenty_one_channels_are_refused_on_the_channel_field(client_as, db):
    codes = [ChannelFactory(code=f"busy-{i:02d}").code for i in range(21)]
    response = client_as("marketing").get(PAGE, {**NOVEMBER, "channel": codes})
    assert response.status_code == 400
    assert _field_error(response.content.decode(), "channel") == "Choose at most 20 channels."


def test_the_period_limit_reads_plainly(client_as, db):
    response = client_as("marketing").get(PAGE, {"start": "2025-01-01", "end": "2027-06-01"})
    assert _field_error(response.content.decode(), "end") == "Choose a period of at most 2 years."


@pytest.mark.parametrize("role", ROLES)
def test_every_staff_role_reads_the_page(client_as, fixture, role):
    response = client_as(role).get(PAGE, NOVEMBER)
    assert response.status_code == 200
    shows_downloads = 'data-testid="exclusion-douyin"' in response.content.decode()
    assert shows_downloads == (role in ("marketing_manager", "admin"))


def test_signed_out_and_outsiders_are_refused(client):
    response = client.get(PAGE)
    assert response.status_code == 302 and response.url.startswith(reverse("login"))
    client.force_login(UserFactory())
    assert client.get(PAGE).status_code == 403


def test_the_nav_links_the_page(client_as, db):
    html = client_as("service").get(reverse("home")).content.decode()
    assert f'href="{PAGE}" data-testid="nav-overlap"' in html


def test_the_page_renders_in_chinese(client_as, fixture):
    response = client_as("sales").get(PAGE, NOVEMBER, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 200 and response["Content-Language"] == "zh-hans"


# --- downloads ---------------------------------------------------------------------------------------------------


def test_a_manager_downloads_from_the_page(client_as, fixture):
    client = client_as("marketing_manager")
    html = client.get(PAGE, NOVEMBER).content.decode()
    row = html.split('data-testid="exclusion-douyin">', 1)[1].split("</tr>", 1)[0]
    assert _col(row, "reached_elsewhere") == "6"  # 8 reached − D and H (Douyin only)
    assert _col(row, "saving") == "CNY\u00a01,200.00"  # Douyin's wasted spend
    href = re.search(r'href="([^"]+)"', row).group(1).replace("&amp;", "&")
    assert href == "/marketing/channels/douyin/exclusion-list/?start=2026-11-01&end=2026-12-01"
    response = client.get(href)
    assert response.status_code == 200 and response["Relay-Exclusion-Hashes"] == "7"
    assert hashlib.sha256(b"a@example.com").hexdigest() in response.content.decode()


@pytest.mark.parametrize("role", ["marketing", "sales_manager", "service"])
def test_others_may_not_download_from_the_page(client_as, fixture, role):
    assert client_as(role).get("/marketing/channels/douyin/exclusion-list/", NOVEMBER).status_code == 403


def test_page_download_refusals(client_as, fixture, client):
    manager = client_as("marketing_manager")
    assert manager.get("/marketing/channels/nope/exclusion-list/", NOVEMBER).status_code == 404
    bad = manager.get("/marketing/channels/douyin/exclusion-list/", {"start": "2026-12-01", "end": "2026-11-01"})
    assert bad.status_code == 400 and b"The end must be after the start." in bad.content
    assert manager.get("/marketing/channels/douyin/exclusion-list/").status_code == 400
    client.logout()
    assert client.get("/marketing/channels/douyin/exclusion-list/", NOVEMBER).status_code == 302


# --- queries -----------------------------------------------------------------------------------------------------

# The session, the user, its groups, the unread notifications; the channels of the form, the channels with their
# spend, the aggregate. PostgreSQL adds SAVEPOINT, SET LOCAL and RELEASE.
PAGE_QUERIES = 7


@pytest.mark.parametrize("n", [2, 30])
def test_page_queries_do_not_grow(client_as, django_assert_max_num_queries, n):
    client = client_as("marketing_manager")
    channels = [ChannelFactory(code=f"c{i}") for i in range(4)]
    for i in range(n):
        customer = CustomerFactory()
        for channel in channels[: 1 + i % 4]:
            TouchpointFactory(customer=customer, channel=channel, at=at("11-10T10:00"))
    extra = 3 if connection.vendor == "postgresql" else 0
    with django_assert_max_num_queries(PAGE_QUERIES + extra):
        response = client.get(PAGE, NOVEMBER)
    assert response.status_code == 200
    assert f'data-total="reached">{n}<' in response.content.decode()


def test_the_channel_report_links_the_overlap_of_its_period(client_as, db):
    html = client_as("sales").get("/okr/reports/channels/", NOVEMBER).content.decode()
    link = re.search(r'<a href="([^"]+)" data-testid="overlap-link">', html).group(1).replace("&amp;", "&")
    assert link == f"{PAGE}?start=2026-11-01&end=2026-12-01"


def test_a_period_without_touches_or_spend_says_so(client_as, db):
    html = client_as("sales").get(PAGE, NOVEMBER).content.decode()
    assert "No touchpoints or spend in this period." in html
    assert 'data-total="duplicate_reach_rate">—<' in html and 'data-testid="overlap-heatmap"' not in html
