"""`GET /api/v1/channels/overlap/` and `GET /api/v1/channels/{code}/exclusion-list/` (DESIGN.md "REST API
contract"): the hand-computed fixture of tests/marketing/overlap_support.py through the API, refusals as problems
naming their field, who may read and who may download, and query counts that do not grow."""

import csv
import hashlib
import io

import pytest
import time_machine
from django.db import connection
from rest_framework.test import APIClient

from tests.conftest import ROLES
from tests.factories import ChannelFactory, CustomerFactory, CustomerIdentityFactory, TouchpointFactory, UserFactory
from tests.marketing.overlap_support import CHANNELS, MATRIX, NOW, TOTALS, at, build, matrix_of

pytestmark = pytest.mark.django_db

URL = "/api/v1/channels/overlap/"
PERIOD = {"start": "2026-11-01", "end": "2026-12-01"}


def exclusion_url(code: str) -> str:
    return f"/api/v1/channels/{code}/exclusion-list/"


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def fixture(api_as):
    return build(api_as)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _problem(response, status: int, field: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert field in [error["field"] for error in body["errors"]], body
    return body


# --- the overlap -------------------------------------------------------------------------------------------------


def test_the_overlap_as_json(api_as, fixture):
    response = api_as("sales").get(URL, PERIOD)
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["start"], body["end"], body["campaign"], body["kind"]) == ("2026-11-01", "2026-12-01", None, None)
    assert body["channels"] == CHANNELS
    assert matrix_of(body) == MATRIX
    assert body["totals"] == TOTALS


def test_channels_repeated_or_comma_separated(api_as, fixture):
    api = api_as("marketing")
    repeated = api.get(f"{URL}?start=2026-11-01&end=2026-12-01&channel=web&channel=wechat").json()
    listed = api.get(URL, {**PERIOD, "channel": "wechat,web"}).json()
    assert repeated == listed
    assert [row["code"] for row in listed["channels"]] == ["wechat", "web"]
    assert listed["totals"]["duplicate_reach_rate"] == 0.3333  # A and F of A B C E F X


def test_kind_and_campaign_filters(api_as, fixture):
    api = api_as("service")
    clicks = api.get(URL, {**PERIOD, "kind": "click"}).json()
    # Clicks: A (WeChat), B (WeChat), D (Douyin), X (Douyin, Y's): nobody on two channels.
    assert (clicks["totals"]["reached"], clicks["totals"]["multi_channel"]) == (4, 0)
    assert clicks["totals"]["duplicate_reach_rate"] == 0.0
    assert clicks["kind"] == "click"
    campaign = api.get(URL, {**PERIOD, "campaign": fixture["campaign"].pk}).json()
    assert (campaign["totals"]["reached"], campaign["totals"]["duplicate_reach_rate"]) == (1, 1.0)
    assert campaign["totals"]["wasted_spend"] == "1000.00"


def test_the_route_leaves_the_channel_records_alone(api_as, fixture):
    api = api_as("sales")
    detail = api.get(f"/api/v1/channels/{fixture['channels']['web'].pk}/")
    assert (detail.status_code, detail.json()["code"]) == (200, "web")
    assert api.get("/api/v1/channels/").status_code == 200


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"start": "2026-11-01", "end": "2026-11-01"}, "end"),
        ({"start": "2026-11-01", "end": "2026-10-01"}, "end"),
        ({"start": "2025-01-01", "end": "2027-01-02"}, "end"),
        ({"start": "2026-13-01", "end": "2026-12-01"}, "start"),
        ({"end": "2026-12-01"}, "start"),
        ({**PERIOD, "channel": ",".join(f"c{i}" for i in range(21))}, "channel"),
        ({**PERIOD, "channel": "wechat,nope"}, "channel"),
        ({**PERIOD, "kind": "letter"}, "kind"),
        ({**PERIOD, "campaign": "999999"}, "campaign"),
        ({**PERIOD, "campaign": "abc"}, "campaign"),
    ],
)
def test_refusals_name_their_field(api_as, fixture, query, field):
    _problem(api_as("marketing").get(URL, query), 400, field)


def test_a_period_of_exactly_two_years_is_fine(api_as, fixture):
    response = api_as("marketing").get(URL, {"start": "2025-01-01", "end": "2027-01-01"})
    assert response.status_code == 200 and response.json()["totals"]["reached"] == 9  # G too


@pytest.mark.parametrize("role", ROLES)
def test_every_staff_role_reads_the_overlap(api_as, fixture, role):
    assert api_as(role).get(URL, PERIOD).status_code == 200


def test_anonymous_and_outsiders_are_refused(db):
    assert APIClient().get(URL, PERIOD).status_code == 401
    outsider = APIClient()
    outsider.force_authenticate(UserFactory())
    assert outsider.get(URL, PERIOD).status_code == 403


# --- exclusion lists ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["marketing_manager", "admin"])
def test_managers_download_the_exclusion_list(api_as, fixture, role):
    response = api_as(role).get(exclusion_url("douyin"), PERIOD)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="exclusion-douyin-2026-11-01-2026-12-01.csv"'
    assert (response["Relay-Exclusion-Customers"], response["Relay-Exclusion-Hashes"]) == ("5", "7")
    assert response["Relay-Spend-Saved"] == "1200.00"
    rows = list(csv.reader(io.StringIO(response.content.decode("ascii"))))
    assert rows[0] == ["type", "sha256"]
    assert rows[1:] == [
        list(row)
        for row in sorted(
            [
                ("email", sha("a@example.com")),
                ("email", sha("b@example.com")),  # stored as " B@Example.COM ": trimmed and lower-cased
                ("email", sha("f@example.com")),
                ("email", sha("x@example.com")),
                ("email", sha("y@example.com")),  # moved from Y to X by the merge
                ("phone", sha("+8613800000001")),  # A's and B's (from the POS): once
                ("phone", sha("+8613800000003")),
            ]
        )
    ]
    assert sha("+8613800000004") not in response.content.decode()  # D: reached by Douyin only


def test_a_tombstone_is_not_on_the_list(api_as, fixture):
    tombstone = CustomerFactory(merged_into=fixture["people"]["X"])
    CustomerIdentityFactory(customer=tombstone, kind="email", value="t@example.com")
    TouchpointFactory(customer=tombstone, channel=fixture["channels"]["wechat"], at=at("11-20T10:00"))
    response = api_as("marketing_manager").get(exclusion_url("douyin"), PERIOD)
    assert sha("t@example.com") not in response.content.decode()
    assert response["Relay-Exclusion-Hashes"] == "7"


@pytest.mark.parametrize("role", ["marketing", "sales", "sales_manager", "service", "service_manager"])
def test_others_may_not_download_it(api_as, fixture, role):
    response = api_as(role).get(exclusion_url("douyin"), PERIOD)
    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json"


def test_anonymous_may_not_download_it(db):
    ChannelFactory(code="douyin")
    assert APIClient().get(exclusion_url("douyin"), PERIOD).status_code == 401


def test_exclusion_list_refusals(api_as, fixture):
    api = api_as("marketing_manager")
    _problem(api.get(exclusion_url("nope"), PERIOD), 404, "code")
    _problem(api.get(exclusion_url("douyin"), {"start": "2026-12-01", "end": "2026-11-01"}), 400, "end")
    _problem(api.get(exclusion_url("douyin"), {"start": "2024-01-01", "end": "2026-12-01"}), 400, "end")
    _problem(api.get(exclusion_url("douyin"), {"start": "2026-11-01"}), 400, "end")


def test_both_are_in_the_schema(api_as):
    paths = api_as("sales").get("/api/schema/", {"format": "json"}).json()["paths"]
    overlap = paths["/api/v1/channels/overlap/"]["get"]
    assert {p["name"] for p in overlap["parameters"]} >= {"start", "end", "channel", "campaign", "kind"}
    listed = paths["/api/v1/channels/{code}/exclusion-list/"]["get"]
    assert "text/csv" in listed["responses"]["200"]["content"]
    assert "Relay-Spend-Saved" in listed["responses"]["200"]["headers"]


# --- queries -----------------------------------------------------------------------------------------------------


def _grow(n: int):
    wechat, douyin = ChannelFactory(code="wechat"), ChannelFactory(code="douyin")
    for i in range(n):
        customer = CustomerFactory()
        CustomerIdentityFactory(customer=customer, kind="email", value=f"p{i}@example.com")
        TouchpointFactory(customer=customer, channel=wechat, at=at("11-10T10:00"))
        if i % 2:
            TouchpointFactory(customer=customer, channel=douyin, at=at("11-11T10:00"))


# The user's groups, the channels with their spend, the aggregate; PostgreSQL adds SAVEPOINT, SET LOCAL, RELEASE.
OVERLAP_QUERIES = 3
# The user's groups, the channel with its spend, the aggregate (channel against all others), the identities.
EXCLUSION_QUERIES = 4
PG_EXTRA = 3


@pytest.mark.parametrize("n", [2, 30])
def test_overlap_queries_do_not_grow(api_as, django_assert_max_num_queries, n):
    api = api_as("sales")
    _grow(n)
    with django_assert_max_num_queries(OVERLAP_QUERIES + (PG_EXTRA if connection.vendor == "postgresql" else 0)):
        response = api.get(URL, PERIOD)
    assert response.json()["totals"]["reached"] == n


@pytest.mark.parametrize("n", [2, 30])
def test_exclusion_list_queries_do_not_grow(api_as, django_assert_max_num_queries, n):
    api = api_as("marketing_manager")
    _grow(n)
    with django_assert_max_num_queries(EXCLUSION_QUERIES + (PG_EXTRA if connection.vendor == "postgresql" else 0)):
        response = api.get(exclusion_url("douyin"), PERIOD)
    assert response["Relay-Exclusion-Customers"] == str(n)
