"""`affinity/` (DESIGN.md "Payloads": affinity rows): the hand-computed pairs through the API, its filters, its
order by confidence with stable cursor pages, a fixed query count, and who may read it."""

import pytest
from django.urls import reverse

from customers import affinity
from customers.models import AffinityPair
from tests.conftest import ROLES
from tests.customers.affinity_fixture import EXPECTED, MIN_SUPPORT, NOW, SKUS, make_shop
from tests.factories import ProductFactory, UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/affinity/"
LETTER = {sku: letter for letter, sku in SKUS.items()}


@pytest.fixture
def shop(settings):
    settings.RELAY_AFFINITY_MIN_SUPPORT = MIN_SUPPORT
    made = make_shop()
    affinity.refresh_affinity(now=NOW)
    return made


def _pairs(body) -> list[tuple[str, str]]:
    return [(LETTER[row["from"]], LETTER[row["to"]]) for row in body["results"]]


def test_the_rows_carry_the_hand_computed_figures_best_confidence_first(api_as, shop):
    body = api_as("sales").get(URL).json()
    rows = body["results"]
    assert len(rows) == len(EXPECTED) and body["next"] is None
    for row in rows:
        support, confidence, lift = EXPECTED[(LETTER[row["from"]], LETTER[row["to"]])]
        assert (row["support"], row["confidence"], row["lift"]) == (
            support,
            pytest.approx(confidence, rel=1e-12),
            pytest.approx(lift, rel=1e-12),
        )
    # Confidence: E→C 1, B→A 0.75, then three at 2/3 (newest row first), A→B 0.6, B→C 0.5, A→C 0.4.
    confidences = [row["confidence"] for row in rows]
    assert confidences == sorted(confidences, reverse=True)
    assert _pairs(body)[:2] == [("E", "C"), ("B", "A")] and _pairs(body)[-3:] == [("A", "B"), ("B", "C"), ("A", "C")]
    first = rows[0]
    assert first["from_name"] == "Old toy" and first["to_name"] == "Kids tee" and first["from_category"] == "toys"
    assert first["computed_at"].startswith("2026-06-16T10:00:00")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("from=BABY-FOOD", {("A", "B"), ("A", "C")}),
        ("to=BABY-FOOD", {("B", "A"), ("C", "A")}),
        ("category=toys", {("B", "A"), ("B", "C"), ("E", "C")}),
        ("min_support=3", {("A", "B"), ("B", "A")}),
        ("min_lift=1.3", {("B", "C"), ("C", "B"), ("C", "E"), ("E", "C")}),  # 4/3 and 8/3
        ("from=KIDS-TEE&min_lift=2", {("C", "E")}),
        ("from=NO-SUCH-SKU", set()),
    ],
)
def test_filters(api_as, shop, query, expected):
    assert set(_pairs(api_as("marketing").get(f"{URL}?{query}").json())) == expected


@pytest.mark.parametrize("query", ["min_support=many", "min_lift=x", "min_support=-1"])
def test_a_bad_filter_is_a_400_naming_it(api_as, shop, query):
    response = api_as("service").get(f"{URL}?{query}")
    name = query.split("=")[0]
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/problem+json")
    assert [e["field"] for e in response.json()["errors"]] == [name]


def test_cursor_pages_walk_every_row_once_in_order(api_as, shop):
    api = api_as("sales")
    seen, url = [], f"{URL}?page_size=3"
    while url:
        body = api.get(url).json()
        seen += _pairs(body)
        url = body["next"]
    assert seen == _pairs(api.get(URL).json()) and len(set(seen)) == len(EXPECTED)


def test_ties_in_confidence_do_not_repeat_or_skip_across_pages(api_as, settings):
    """Forty pairs of the same confidence across pages of seven: the cursor holds (confidence, id)."""
    products = ProductFactory.create_batch(41)
    AffinityPair.objects.bulk_create(
        AffinityPair(from_product=products[0], to_product=p, support=5, confidence=0.5, lift=1.0, computed_at=NOW)
        for p in products[1:]
    )
    api = api_as("sales")
    seen, url = [], f"{URL}?page_size=7"
    while url:
        body = api.get(url).json()
        seen += [row["to"] for row in body["results"]]
        url = body["next"]
    assert sorted(seen) == sorted(p.sku for p in products[1:])


@pytest.mark.parametrize("n", [2, 30])
def test_the_list_costs_the_same_queries_at_any_size(api_as, django_assert_max_num_queries, n):
    products = ProductFactory.create_batch(n + 1)
    AffinityPair.objects.bulk_create(
        AffinityPair(from_product=products[0], to_product=p, support=5, confidence=0.5, lift=1.0, computed_at=NOW)
        for p in products[1:]
    )
    api = api_as("sales")
    with django_assert_max_num_queries(2):  # the user's groups, the page of pairs with both products
        response = api.get(f"{URL}?page_size=200")
    assert len(response.json()["results"]) == n


@pytest.mark.parametrize("role", ROLES)
def test_everyone_signed_in_reads(api_as, shop, role):
    assert api_as(role).get(URL).status_code == 200


def test_nobody_writes(api_as, shop):
    api = api_as("admin")
    assert api.post(URL, {"from": "BABY-FOOD", "to": "TOY-CAR"}, format="json").status_code == 405
    assert api.delete(f"{URL}1/").status_code == 404
    assert AffinityPair.objects.count() == len(EXPECTED)


def test_anonymous_and_staff_outside_the_departments_are_refused(client, api_as, shop):
    assert client.get(URL).status_code == 401
    assert api_as(user=UserFactory()).get(URL).status_code == 403


def test_the_schema_documents_the_filters_and_the_from_field(api_as):
    schema = api_as("admin").get(reverse("api-schema"), {"format": "json"}).json()
    operation = schema["paths"]["/api/v1/affinity/"]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {"from", "to", "category", "min_support", "min_lift"}
    assert "from" in schema["components"]["schemas"]["AffinityOutput"]["properties"]
