"""A customer's recommendations (customers.affinity.recommendations, `customers/{id}/recommendations/`, the
customer page's "Recommended next"): the hand-computed fixture's, never what they bought, never a switched-off
product, best first, in one query."""

import pytest
from django.urls import reverse

from customers import affinity
from customers.models import AffinityPair
from tests.conftest import ROLES
from tests.customers.affinity_fixture import MIN_SUPPORT, NOW, SKUS, buy, make_shop
from tests.factories import CustomerFactory, ProductFactory, UserFactory

pytestmark = pytest.mark.django_db

LETTER = {sku: letter for letter, sku in SKUS.items()}

# From the fixture's docstring: customer → [(product, confidence)], best first.
EXPECTED = {
    "c1": [],  # bought A B C; C → E is switched off
    "c2": [("C", 0.5)],  # max(A → C 0.4, B → C 0.5)
    "c4": [("B", 2 / 3)],  # max(A → B 0.6, C → B 2/3)
    "c5": [("A", 0.75)],  # its cancelled A is not "bought": max(B → A 0.75, C → A 2/3)
    "c6": [],  # D has no pair
    "c7": [("C", 0.5)],  # B bought 400 days ago still counts as bought: max(A → C 0.4, B → C 0.5)
    "c8": [],  # D; its cancelled A and B are not "bought", and D has no pair
    "c10": [("B", 0.6), ("C", 0.4)],  # A bought 400 days ago
}


@pytest.fixture
def shop(settings):
    settings.RELAY_AFFINITY_MIN_SUPPORT = MIN_SUPPORT
    made = make_shop()
    affinity.refresh_affinity(now=NOW)
    return made


@pytest.mark.parametrize("key", sorted(EXPECTED))
def test_recommendations_match_the_hand_computed_ones(shop, key, django_assert_num_queries):
    with django_assert_num_queries(1):
        found = affinity.recommendations(shop.customers[key].pk)
    assert [(LETTER[p.sku], p.confidence) for p in found] == [
        (letter, pytest.approx(confidence)) for letter, confidence in EXPECTED[key]
    ]


def test_the_limit_keeps_the_best(shop):
    assert [p.sku for p in affinity.recommendations(shop.customers["c10"].pk, limit=1)] == [SKUS["B"]]


def test_switching_a_product_off_takes_it_out_at_once(shop):
    shop.products["B"].is_active = False
    shop.products["B"].save(update_fields=["is_active"])
    assert [p.sku for p in affinity.recommendations(shop.customers["c10"].pk)] == [SKUS["C"]]


def test_a_customer_without_orders_has_none(shop):
    assert affinity.recommendations(CustomerFactory().pk) == []


# ---------------------------------------------------------------- the API


def _url(customer) -> str:
    return f"/api/v1/customers/{customer.pk}/recommendations/"


def test_the_api_answers_sku_and_confidence_best_first(api_as, shop):
    body = api_as("sales").get(_url(shop.customers["c10"])).json()
    assert body["next"] is None and body["previous"] is None
    assert [(r["product"], r["confidence"]) for r in body["results"]] == [
        (SKUS["B"], pytest.approx(0.6)),
        (SKUS["C"], pytest.approx(0.4)),
    ]
    assert body["results"][0] | {"confidence": 0} == {
        "product": SKUS["B"],
        "confidence": 0,
        "name": "Toy car",
        "category": "toys",
        "price": "129.00",
    }


def test_the_api_limit(api_as, shop):
    api = api_as("service")
    assert [r["product"] for r in api.get(_url(shop.customers["c10"]) + "?limit=1").json()["results"]] == [SKUS["B"]]
    for bad in ("0", "51", "two"):
        response = api.get(_url(shop.customers["c10"]) + f"?limit={bad}")
        assert response.status_code == 400 and response.json()["errors"][0]["field"] == "limit"


def test_an_unknown_customer_is_404(api_as):
    assert api_as("sales").get("/api/v1/customers/999999/recommendations/").status_code == 404


@pytest.mark.parametrize("bought", [1, 12])
def test_the_api_costs_the_same_queries_however_much_they_bought(api_as, django_assert_max_num_queries, bought):
    customer = CustomerFactory()
    products, others = ProductFactory.create_batch(bought), ProductFactory.create_batch(bought)
    for product, other in zip(products, others, strict=True):
        buy(customer, [product])
        AffinityPair.objects.create(
            from_product=product, to_product=other, support=5, confidence=0.5, lift=2, computed_at=NOW
        )
    api = api_as("marketing")
    with django_assert_max_num_queries(3):  # the user's groups, the customer, the recommendations
        response = api.get(_url(customer) + "?limit=50")
    assert len(response.json()["results"]) == bought


@pytest.mark.parametrize("role", ROLES)
def test_everyone_signed_in_reads(api_as, shop, role):
    assert api_as(role).get(_url(shop.customers["c2"])).status_code == 200


def test_anonymous_and_staff_outside_the_departments_are_refused(client, api_as, shop):
    assert client.get(_url(shop.customers["c2"])).status_code == 401
    assert api_as(user=UserFactory()).get(_url(shop.customers["c2"])).status_code == 403


# ---------------------------------------------------------------- the customer page


def test_the_customer_page_shows_the_recommendations(client_as, shop):
    html = client_as("service").get(reverse("customers:customer-detail", args=[shop.customers["c10"].pk]))
    text = html.content.decode()
    panel = text[text.index('data-testid="recommendations"') :]
    assert panel.index("Toy car") < panel.index("Kids tee")
    assert "toys" in panel and "60%" in panel and "40%" in panel


def test_the_customer_page_says_when_there_is_nothing_to_recommend(client_as, shop):
    text = client_as("sales").get(reverse("customers:customer-detail", args=[shop.customers["c1"].pk])).content
    assert "No recommendations yet." in text.decode()


def _buyer_of(n: int):
    """A customer who bought `n` products, each with a pair to a product they did not buy."""
    customer = CustomerFactory()
    for product, other in zip(ProductFactory.create_batch(n), ProductFactory.create_batch(n), strict=True):
        buy(customer, [product])
        AffinityPair.objects.create(
            from_product=product, to_product=other, support=5, confidence=0.5, lift=2, computed_at=NOW
        )
    return customer


def test_the_panel_keeps_the_customer_page_at_a_fixed_query_count(client_as, django_assert_max_num_queries):
    client = client_as("marketing")
    small, big = _buyer_of(1), _buyer_of(12)
    client.get(reverse("customers:customer-detail", args=[small.pk]))  # warm caches (content types etc.)
    with django_assert_max_num_queries(27) as small_queries:
        client.get(reverse("customers:customer-detail", args=[small.pk]))
    with django_assert_max_num_queries(len(small_queries.captured_queries)):
        response = client.get(reverse("customers:customer-detail", args=[big.pk]))
    assert response.content.decode().count('data-testid="recommendation"') == 5
