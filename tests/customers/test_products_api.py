"""`products/` (DESIGN.md "REST API contract", payload `{"sku", "name", "category", "price", "is_active"}`): CRUD with
filters and sorts, ETag / If-Match, the catalogue's writers (sales and marketing managers, admins; everyone reads),
and bad input named by field."""

from decimal import Decimal

import pytest

from config.errors import DomainError
from customers import products
from customers.models import Product
from tests.conftest import ROLES
from tests.factories import OrderLineFactory, ProductFactory, make_user

pytestmark = pytest.mark.django_db
URL = "/api/v1/products/"
WRITERS = {"sales_manager", "marketing_manager", "admin"}


def _fields(response) -> list[tuple[str, str]]:
    return [(e["field"], e["code"]) for e in response.json()["errors"]]


@pytest.mark.parametrize("role", ROLES)
def test_everyone_reads_and_only_the_catalogue_writers_write(api_as, role):
    product = ProductFactory(sku="P-1")
    api = api_as(role)
    assert api.get(URL).status_code == 200 and api.get(f"{URL}{product.pk}/").status_code == 200
    created = api.post(URL, {"sku": "P-2", "name": "Bib", "category": "baby", "price": "9.90"}, format="json")
    changed = api.patch(f"{URL}{product.pk}/", {"price": "12.00"}, format="json")
    allowed = role in WRITERS
    assert (created.status_code, changed.status_code) == ((201, 200) if allowed else (403, 403))
    assert Product.objects.filter(sku="P-2").exists() is allowed
    assert Product.objects.get(pk=product.pk).price == (Decimal("12.00") if allowed else Decimal("50.00"))


def test_anonymous_is_refused(client):
    assert client.get(URL).status_code in (401, 403)


def test_create_read_update_delete(api_as):
    api = api_as("marketing_manager")
    created = api.post(
        URL, {"sku": " TOY-1 ", "name": "Wooden train", "category": "toys", "price": "199.5"}, format="json"
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert {k: body[k] for k in ("sku", "name", "category", "price", "is_active")} == {
        "sku": "TOY-1",
        "name": "Wooden train",
        "category": "toys",
        "price": "199.50",
        "is_active": True,
    }
    url = f"{URL}{body['id']}/"
    read = api.get(url)
    assert read.json() == body and read["ETag"]
    stale = read["ETag"]
    assert api.patch(url, {"is_active": False}, format="json", HTTP_IF_MATCH=stale).status_code == 200
    refused = api.patch(url, {"name": "Other"}, format="json", HTTP_IF_MATCH=stale)
    assert refused.status_code == 412 and Product.objects.get().name == "Wooden train"
    put = api.put(url, {"sku": "TOY-1", "name": "Train"}, format="json")
    assert put.status_code == 400 and {f for f, _c in _fields(put)} == {"category", "price", "is_active"}
    assert api.delete(url).status_code == 204 and not Product.objects.exists()


def test_a_sold_product_cannot_be_deleted(api_as):
    line = OrderLineFactory()
    response = api_as("admin").delete(f"{URL}{line.product_id}/")
    assert response.status_code == 409 and _fields(response) == [("is_active", "in_use")]
    assert Product.objects.filter(pk=line.product_id).exists()


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"price": "-1.00"}, [("price", "min_value")]),
        ({"price": "1.005"}, [("price", "max_decimal_places")]),
        ({"price": "abc"}, [("price", "invalid")]),
        ({"price": "10000000000"}, [("price", "max_whole_digits")]),
        ({"sku": ""}, [("sku", "blank")]),
        ({"sku": "x" * 65}, [("sku", "max_length")]),
        ({"name": ""}, [("name", "blank")]),
        ({"category": None}, [("category", "null")]),
        ({"sku": "TAKEN"}, [("sku", "unique")]),
    ],
)
def test_bad_input_is_400_naming_the_field(api_as, body, expected):
    ProductFactory(sku="TAKEN")
    payload = {"sku": "NEW-1", "name": "Spoon", "category": "baby", "price": "5.00", **body}
    response = api_as("sales_manager").post(URL, payload, format="json")
    assert response.status_code == 400 and _fields(response) == expected
    assert Product.objects.count() == 1


def test_changing_a_sku_to_a_taken_one_is_refused(api_as):
    ProductFactory(sku="A")
    b = ProductFactory(sku="B")
    response = api_as("admin").patch(f"{URL}{b.pk}/", {"sku": "A"}, format="json")
    assert response.status_code == 400 and _fields(response) == [("sku", "unique")]


def test_the_service_refuses_bad_prices_from_every_entry_point():
    admin = make_user("admin")
    for price in ("-3", "1.999", "1e10"):
        with pytest.raises(DomainError) as refused:
            products.save_product(by=admin, sku="S", name="N", category="C", price=price)
        assert refused.value.field == "price", price
    assert products.save_product(by=admin, sku="S", name="N", category="C", price="¥1,299.9").price == Decimal(
        "1299.90"
    )


def test_filters_search_and_sorts(api_as):
    ProductFactory(sku="MILK-1", name="Infant milk", category="baby food", price=Decimal("120.00"))
    ProductFactory(sku="PUREE-2", name="Apple puree", category="baby food", price=Decimal("8.00"))
    ProductFactory(sku="TOY-7", name="Stacking rings", category="toys", price=Decimal("35.50"), is_active=False)
    api = api_as("service")

    def skus(**params):
        response = api.get(URL, params)
        assert response.status_code == 200, response.content
        return [row["sku"] for row in response.json()["results"]]

    assert skus(sku="TOY-7") == ["TOY-7"]
    assert sorted(skus(category="baby food")) == ["MILK-1", "PUREE-2"]
    assert skus(is_active="false") == ["TOY-7"]
    assert skus(q="milk") == ["MILK-1"] and skus(q="puree") == ["PUREE-2"]
    assert skus(ordering="price") == ["PUREE-2", "TOY-7", "MILK-1"]
    assert skus(ordering="-name") == ["TOY-7", "MILK-1", "PUREE-2"]
    assert api.get(URL, {"ordering": "secret"}).status_code == 400


@pytest.mark.parametrize("n", [2, 40])
def test_the_list_costs_fixed_queries(api_as, django_assert_max_num_queries, n):
    api = api_as("sales")
    ProductFactory.create_batch(n)
    with django_assert_max_num_queries(2):  # the user's groups, the page
        response = api.get(URL)
    assert len(response.json()["results"]) == n
