"""The product pages: the catalogue list (category filter, search, sorting, keyset paging, fixed queries), a
product's page with its sales (orders not cancelled), the create and edit forms, and the product admin — each
refusing what customers.permissions PRODUCT_WRITE refuses."""

from decimal import Decimal

import pytest
from django.urls import reverse

from customers.models import Product
from customers.services import cancel_order
from tests.conftest import ROLES
from tests.factories import CustomerFactory, OrderFactory, OrderLineFactory, ProductFactory
from tests.paging import assert_fixed_queries, assert_walks, page_ids

pytestmark = pytest.mark.django_db
WRITERS = {"sales_manager", "marketing_manager", "admin"}


def _catalogue(n):
    start = Product.objects.count()
    for i in range(start, start + n):
        ProductFactory(sku=f"SKU-{i:04d}", category=f"cat-{(i * 7) % 5}", price=Decimal(10 + (i * 13) % 17))


def test_the_list_filters_by_category_and_search(client_as):
    ProductFactory(sku="MILK-1", name="Infant milk", category="baby food")
    ProductFactory(sku="TOY-7", name="Stacking rings", category="toys")
    client = client_as("service")
    page = client.get(reverse("customers:product-list"), {"category": "toys"})
    assert page.status_code == 200
    assert [cells[0] for _pk, cells, _link in page.context["rows"]] == ["TOY-7"]
    html = page.content.decode()
    assert '<option value="baby food">baby food</option>' in html  # the category filter offers the catalogue's
    assert [
        cells[0] for _pk, cells, _link in client.get(reverse("customers:product-list"), {"q": "milk"}).context["rows"]
    ] == ["MILK-1"]


def test_the_list_sorts_and_walks_every_row_once(client_as):
    _catalogue(57)
    client = client_as("marketing")
    expected = [p.pk for p in sorted(Product.objects.all(), key=lambda p: (-p.price, -p.pk))]
    assert_walks(client, reverse("customers:product-list") + "?sort=-price", expected, page_size=50)


def test_the_list_costs_fixed_queries(client_as, django_assert_max_num_queries):
    response = assert_fixed_queries(
        client_as("sales"),
        reverse("customers:product-list"),
        _catalogue,
        assert_max_num_queries=django_assert_max_num_queries,
    )
    assert len(page_ids(response)) == 50 and response.context["next_url"]


def test_the_product_page_shows_its_sales_without_cancelled_orders(client_as):
    product = ProductFactory(sku="MILK-1", name="Infant milk", price=Decimal("120.00"))
    a, b = CustomerFactory(), CustomerFactory()
    first, second, third = OrderFactory(customer=a), OrderFactory(customer=a), OrderFactory(customer=b)
    OrderLineFactory(order=first, product=product, quantity=2, unit_price=Decimal("120.00"))
    OrderLineFactory(order=second, product=product, quantity=1, unit_price=Decimal("99.90"))
    OrderLineFactory(order=third, product=product, quantity=5, unit_price=Decimal("100.00"))
    OrderLineFactory(order=first)  # another product's line
    cancel_order(order=third, by=None, reason="Returned")
    response = client_as("sales").get(reverse("customers:product-detail", args=[product.pk]))
    assert response.status_code == 200
    # 2 × 120.00 + 1 × 99.90 = 339.90 over two orders of one customer; the cancelled 5 × 100.00 is left out.
    assert response.context["product"].sales == {
        "units": 3,
        "revenue": Decimal("339.90"),
        "orders": 2,
        "customers": 1,
    }
    html = response.content.decode()
    assert "CNY\xa0339.90" in html
    assert [line.order_id for line in response.context["product"].recent_lines] == [third.pk, second.pk, first.pk]


@pytest.mark.parametrize("n", [1, 30])
def test_the_product_page_costs_fixed_queries(client_as, django_assert_max_num_queries, n):
    product = ProductFactory()
    for _ in range(n):
        OrderLineFactory(product=product)
    client = client_as("service")
    with django_assert_max_num_queries(7):  # session, user, groups, product, sales, lines, saved views
        response = client.get(reverse("customers:product-detail", args=[product.pk]))
    assert len(response.context["product"].recent_lines) == n


@pytest.mark.parametrize("role", ROLES)
def test_the_forms_and_buttons_follow_the_role(client_as, role):
    product = ProductFactory()
    client = client_as(role)
    allowed = role in WRITERS
    assert client.get(reverse("customers:product-create")).status_code == (200 if allowed else 403)
    created = client.post(
        reverse("customers:product-create"), {"sku": "NEW-1", "name": "Spoon", "category": "baby", "price": "4.50"}
    )
    assert created.status_code == (302 if allowed else 403)
    detail = client.get(reverse("customers:product-detail", args=[product.pk])).content.decode()
    assert (reverse("customers:product-edit", args=[product.pk]) in detail) is allowed
    listing = client.get(reverse("customers:product-list")).content.decode()
    assert (reverse("customers:product-create") in listing) is allowed


def test_the_form_names_a_taken_sku_and_a_bad_price(client_as):
    ProductFactory(sku="TAKEN")
    client = client_as("sales_manager")
    taken = client.post(
        reverse("customers:product-create"), {"sku": "TAKEN", "name": "X", "category": "c", "price": "1.00"}
    )
    assert taken.status_code == 422 and taken.context["form"].errors == {"sku": ["A product with this SKU exists."]}
    negative = client.post(
        reverse("customers:product-create"), {"sku": "N", "name": "X", "category": "c", "price": "-1"}
    )
    assert negative.status_code == 422 and list(negative.context["form"].errors) == ["price"]
    product = Product.objects.get()
    edit = client.post(
        reverse("customers:product-edit", args=[product.pk]),
        {"sku": "TAKEN", "name": "Renamed", "category": "c", "price": "2.00", "is_active": ""},
    )
    assert edit.status_code == 302
    product.refresh_from_db()
    assert (product.name, product.price, product.is_active) == ("Renamed", Decimal("2.00"), False)


@pytest.mark.parametrize("role", ROLES)
def test_the_admin_follows_the_same_rule(client_as, role):
    client = client_as(role)
    response = client.post(
        reverse("admin:customers_product_add"),
        {"sku": "ADM-1", "name": "Cup", "category": "baby", "price": "6.00", "is_active": "on"},
    )
    allowed = role in WRITERS
    assert (response.status_code == 302) is allowed, response.status_code
    assert Product.objects.filter(sku="ADM-1").exists() is allowed


def test_the_admin_names_a_bad_price(client_as):
    response = client_as("admin").post(
        reverse("admin:customers_product_add"), {"sku": "ADM-2", "name": "Cup", "category": "baby", "price": "-6"}
    )
    assert response.status_code == 200 and "price" in response.context["adminform"].form.errors
    assert not Product.objects.exists()


def test_the_nav_links_the_catalogue(client_as):
    html = client_as("service").get(reverse("customers:order-list")).content.decode()
    assert f'href="{reverse("customers:product-list")}"' in html
