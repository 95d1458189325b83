"""Orders with lines (DESIGN.md "Commerce", payload `"lines": [{"product": sku, "quantity", "unit_price"}]`) and
orders naming their customer by `contact`: through the API, the order page and form, and the admin. The amount is
the sum of the lines; a bad line, a disagreeing amount or a bad contact is a 400 naming the field, with nothing
written."""

from decimal import Decimal

import pytest
from django.urls import reverse

from config.errors import DomainError
from customers import services
from customers.models import Customer, CustomerIdentity, Order, OrderLine
from tests.factories import ChannelFactory, CustomerFactory, OrderFactory, OrderLineFactory, ProductFactory
from tests.webhook_events import endpoints_for, sent

pytestmark = pytest.mark.django_db
URL = "/api/v1/orders/"
AT = "2026-03-01T10:00:00+08:00"


@pytest.fixture
def catalogue():
    return {
        "milk": ProductFactory(sku="MILK-1", name="Infant milk", category="baby food", price=Decimal("120.00")),
        "toy": ProductFactory(sku="TOY-7", name="Stacking rings", category="toys", price=Decimal("35.50")),
        "old": ProductFactory(sku="OLD-1", name="Retired rattle", category="toys", is_active=False),
    }


def _order(customer, lines, **extra) -> dict:
    return {"customer": customer.pk, "ordered_at": AT, "lines": lines, **extra}


def _problem(response, status=400) -> list[tuple[str, str]]:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    return [(e["field"], e["code"]) for e in response.json()["errors"]]


def test_lines_make_the_amount_and_come_back_with_the_order(api_as, catalogue):
    customer = CustomerFactory()
    lines = [
        {"product": "MILK-1", "quantity": 2},  # the product's price: 2 × 120.00 = 240.00
        {"product": "TOY-7", "quantity": 3, "unit_price": "30.25"},  # 90.75
    ]
    response = api_as("sales").post(URL, _order(customer, lines), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["amount"] == "330.75"  # 240.00 + 90.75
    assert body["customer_matched"] is True and body["customer"] == customer.pk
    assert body["lines"] == [
        {"product": "MILK-1", "name": "Infant milk", "quantity": 2, "unit_price": "120.00", "total": "240.00"},
        {"product": "TOY-7", "name": "Stacking rings", "quantity": 3, "unit_price": "30.25", "total": "90.75"},
    ]
    order = Order.objects.get()
    assert order.amount == Decimal("330.75")
    assert list(order.lines.order_by("pk").values_list("product__sku", "quantity", "unit_price")) == [
        ("MILK-1", 2, Decimal("120.00")),
        ("TOY-7", 3, Decimal("30.25")),
    ]
    read = api_as("marketing").get(f"{URL}{order.pk}/").json()
    assert read["lines"] == body["lines"] and read["cancelled_at"] is None


def test_an_amount_that_matches_the_lines_is_accepted(api_as, catalogue):
    customer = CustomerFactory()
    lines = [{"product": "TOY-7", "quantity": 2}]  # 71.00
    response = api_as("service").post(URL, _order(customer, lines, amount="71.00"), format="json")
    assert response.status_code == 201 and response.json()["amount"] == "71.00"


def test_an_amount_that_disagrees_with_the_lines_is_400_naming_amount(api_as, catalogue):
    customer = CustomerFactory()
    lines = [{"product": "TOY-7", "quantity": 2}]  # 71.00
    response = api_as("sales").post(URL, _order(customer, lines, amount="70.00"), format="json")
    assert _problem(response) == [("amount", "mismatch")]
    assert "71.00" in response.json()["errors"][0]["message"]
    assert not Order.objects.exists() and not OrderLine.objects.exists()


@pytest.mark.parametrize(
    ("line", "field", "code"),
    [
        ({"product": "NOPE-9", "quantity": 1}, "lines[1].product", "does_not_exist"),
        ({"product": "OLD-1", "quantity": 1}, "lines[1].product", "inactive"),
        ({"product": "TOY-7", "quantity": 0}, "lines[1].quantity", "min_value"),
        ({"product": "TOY-7", "quantity": -2}, "lines[1].quantity", "min_value"),
        ({"product": "TOY-7", "quantity": 1.5}, "lines[1].quantity", "invalid"),
        ({"product": "TOY-7", "quantity": "two"}, "lines[1].quantity", "invalid"),
        ({"product": "TOY-7"}, "lines[1].quantity", "required"),
        ({"product": "TOY-7", "quantity": 1, "unit_price": "-1.00"}, "lines[1].unit_price", "min_value"),
        ({"product": "TOY-7", "quantity": 1, "unit_price": "1.005"}, "lines[1].unit_price", "max_decimal_places"),
        ({"quantity": 1}, "lines[1].product", "required"),
    ],
)
def test_a_bad_line_is_400_naming_it_and_nothing_is_written(api_as, catalogue, line, field, code):
    customer = CustomerFactory()
    lines = [{"product": "MILK-1", "quantity": 1}, line]
    response = api_as("sales").post(URL, _order(customer, lines), format="json")
    assert _problem(response) == [(field, code)]
    assert not Order.objects.exists() and not OrderLine.objects.exists()


def test_the_service_refuses_bad_lines_from_every_entry_point(catalogue):
    """The API's serializer checks shape; the service holds the rules for pages, admin and imports alike."""
    customer = CustomerFactory()
    cases = [
        ([{"product": "MILK-1", "quantity": "2.5"}], "lines[0].quantity", "invalid"),
        ([{"product": "MILK-1", "quantity": "0"}], "lines[0].quantity", "min_value"),
        ([{"product": "MILK-1", "quantity": 1, "unit_price": "9.999"}], "lines[0].unit_price", "invalid"),
        ([{"product": "MILK-1", "quantity": 1, "unit_price": "-3"}], "lines[0].unit_price", "invalid"),
        ([{"product": "OLD-1", "quantity": 1}], "lines[0].product", "inactive"),
        ([{"product": " ", "quantity": 1}], "lines[0].product", "required"),
    ]
    for lines, field, code in cases:
        with pytest.raises(DomainError) as refused:
            services.place_order(customer=customer, ordered_at=AT, lines=lines)
        assert (refused.value.field, refused.value.code) == (field, code), lines
    assert services.parse_quantity("3.0", field="q") == 3
    assert not Order.objects.exists()


def test_without_lines_the_amount_is_required(api_as):
    customer = CustomerFactory()
    response = api_as("sales").post(URL, {"customer": customer.pk, "ordered_at": AT}, format="json")
    assert _problem(response) == [("amount", "required")]
    response = api_as("sales").post(URL, {"customer": customer.pk, "ordered_at": AT, "lines": []}, format="json")
    assert _problem(response) == [("amount", "required")]
    assert not Order.objects.exists()


def test_an_order_by_contact_finds_the_customer_or_creates_one(api_as, catalogue):
    known = CustomerFactory(name="Wang Fang")
    CustomerIdentity.objects.create(customer=known, kind="phone", value="+8613800000001")
    ChannelFactory(code="tmall")
    api = api_as("sales")
    matched = api.post(
        URL,
        {"contact": {"phone": "138 0000 0001"}, "ordered_at": AT, "amount": "10.00", "channel": "tmall"},
        format="json",
    )
    assert matched.status_code == 201, matched.content
    assert (matched.json()["customer"], matched.json()["customer_matched"]) == (known.pk, True)
    new = api.post(
        URL,
        {
            "contact": {"name": "Li Na", "email": "LI.NA@example.com"},
            "ordered_at": AT,
            "lines": [{"product": "TOY-7", "quantity": 1}],
            "channel": "tmall",
        },
        format="json",
    )
    assert new.status_code == 201, new.content
    created = Customer.objects.get(pk=new.json()["customer"])
    assert new.json()["customer_matched"] is False and new.json()["amount"] == "35.50"
    assert created.name == "Li Na" and created.source_channel.code == "tmall"
    assert list(created.identities.values_list("kind", "value")) == [("email", "li.na@example.com")]


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"amount": "1.00"}, [("contact", "required")]),  # neither
        ({"amount": "1.00", "contact": {"phone": "13800000009"}, "customer": "CUSTOMER"}, [("contact", "required")]),
        ({"amount": "1.00", "contact": {"phone": "12"}}, [("contact.phone", "invalid_identity")]),
        ({"amount": "1.00", "contact": {"shoe_size": "42"}}, [("contact.shoe_size", "invalid")]),
        ({"amount": "1.00", "contact": {"company": "Acme"}}, [("contact.name", "required")]),
    ],
)
def test_a_missing_or_bad_contact_is_400_naming_contact_and_creates_no_one(api_as, body, fields):
    customer = CustomerFactory()
    if body.get("customer") == "CUSTOMER":
        body = {**body, "customer": customer.pk}
    response = api_as("sales").post(URL, {"ordered_at": AT, **body}, format="json")
    assert _problem(response) == fields
    assert not Order.objects.exists() and list(Customer.objects.all()) == [customer]


def test_a_refused_order_leaves_no_customer_behind(api_as, catalogue):
    body = {"contact": {"name": "Zhao Lei", "phone": "13800000077"}, "ordered_at": AT}
    response = api_as("sales").post(URL, {**body, "lines": [{"product": "NOPE", "quantity": 1}]}, format="json")
    assert _problem(response) == [("lines[0].product", "does_not_exist")]
    assert not Customer.objects.exists()


def test_a_resent_order_by_contact_returns_the_first_and_writes_nothing(api_as, catalogue):
    ChannelFactory(code="jd")
    api = api_as("sales")
    body = {
        "contact": {"name": "Sun Li", "phone": "13800000088"},
        "ordered_at": AT,
        "channel": "jd",
        "external_id": "JD-1",
        "lines": [{"product": "MILK-1", "quantity": 1}],
    }
    first = api.post(URL, body, format="json")
    again = api.post(URL, {**body, "contact": {"name": "Someone else", "phone": "13800000099"}}, format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"] and again.json()["customer_matched"] is True
    assert Customer.objects.count() == 1 and OrderLine.objects.count() == 1


def test_order_placed_event_carries_the_lines(api_as, catalogue, django_capture_on_commit_callbacks):
    wanted, others = endpoints_for("order.placed")
    customer = CustomerFactory()
    with django_capture_on_commit_callbacks(execute=True):
        api_as("sales").post(URL, _order(customer, [{"product": "TOY-7", "quantity": 2}]), format="json")
    [(kind, data)] = sent(wanted)
    assert kind == "order.placed" and data["amount"] == "71.00"
    assert data["lines"] == [{"product": "TOY-7", "quantity": 2, "unit_price": "35.50"}]
    assert sent(others, "order.placed") == []


def test_updating_lines_replaces_them_and_the_amount_follows(api_as, catalogue):
    customer = CustomerFactory()
    api = api_as("sales")
    order_id = api.post(URL, _order(customer, [{"product": "MILK-1", "quantity": 1}]), format="json").json()["id"]
    replaced = api.patch(f"{URL}{order_id}/", {"lines": [{"product": "TOY-7", "quantity": 4}]}, format="json")
    assert replaced.status_code == 200, replaced.content
    assert replaced.json()["amount"] == "142.00"  # 4 × 35.50
    assert [line["product"] for line in replaced.json()["lines"]] == ["TOY-7"]
    wrong = api.patch(f"{URL}{order_id}/", {"amount": "99.00"}, format="json")
    assert _problem(wrong) == [("amount", "mismatch")]
    bad = api.patch(f"{URL}{order_id}/", {"lines": [{"product": "OLD-1", "quantity": 1}]}, format="json")
    assert _problem(bad) == [("lines[0].product", "inactive")]
    assert Order.objects.get().amount == Decimal("142.00") and OrderLine.objects.get().product.sku == "TOY-7"
    cleared = api.patch(f"{URL}{order_id}/", {"lines": [], "amount": "5.00"}, format="json")
    assert cleared.json()["amount"] == "5.00" and cleared.json()["lines"] == []


@pytest.mark.parametrize("n", [2, 30])
def test_the_order_list_with_lines_costs_fixed_queries(api_as, django_assert_max_num_queries, n):
    api = api_as("sales")
    products = ProductFactory.create_batch(3)
    for order in OrderFactory.create_batch(n):
        for product in products:
            OrderLineFactory(order=order, product=product, quantity=2)
    with django_assert_max_num_queries(3):  # the user's groups, the page of orders, their lines
        response = api.get(URL)
    results = response.json()["results"]
    assert len(results) == n and all(len(order["lines"]) == 3 for order in results)
    assert results[0]["lines"][0]["total"] == f"{2 * products[0].price:.2f}"


def test_the_order_filters_by_product_and_cancellation(api_as, catalogue):
    with_milk, without = OrderFactory(), OrderFactory()
    OrderLineFactory(order=with_milk, product=catalogue["milk"])
    OrderLineFactory(order=without, product=catalogue["toy"])
    cancelled = OrderFactory(cancelled_at="2026-03-02T10:00:00+08:00", cancel_reason="Returned")
    api = api_as("service")
    assert [o["id"] for o in api.get(URL, {"product": "MILK-1"}).json()["results"]] == [with_milk.pk]
    assert [o["id"] for o in api.get(URL, {"cancelled": "true"}).json()["results"]] == [cancelled.pk]
    assert {o["id"] for o in api.get(URL, {"cancelled": "false"}).json()["results"]} == {with_milk.pk, without.pk}


# --- pages ------------------------------------------------------------------------------------------------------


def _form(customer, rows, **extra) -> dict:
    data = {
        "customer": customer.pk,
        "ordered_at": "2026-03-02 10:00",
        "lines-TOTAL_FORMS": str(len(rows)),
        "lines-INITIAL_FORMS": "0",
        "lines-MIN_NUM_FORMS": "0",
        "lines-MAX_NUM_FORMS": "100",
        **extra,
    }
    for index, row in enumerate(rows):
        for key, value in row.items():
            data[f"lines-{index}-{key}"] = value
    return data


def test_the_order_form_takes_lines_and_the_order_page_shows_them(client_as, catalogue):
    customer = CustomerFactory()
    client = client_as("service")
    rows = [
        {"product": "MILK-1", "quantity": "1", "unit_price": ""},
        {"product": "", "quantity": "", "unit_price": ""},  # a blank row is no line
        {"product": "TOY-7", "quantity": "2", "unit_price": "30.00"},
    ]
    response = client.post(reverse("customers:order-create"), _form(customer, rows))
    order = Order.objects.get()
    assert response.status_code == 302 and response.url == reverse("customers:order-detail", args=[order.pk])
    assert order.amount == Decimal("180.00")  # 120.00 + 2 × 30.00
    page = client.get(response.url)
    html = page.content.decode()
    assert page.status_code == 200
    assert "Infant milk" in html and "Stacking rings" in html and "CNY\xa0180.00" in html
    assert [(line.product.sku, line.total) for line in page.context["order"].line_rows] == [
        ("MILK-1", Decimal("120.00")),
        ("TOY-7", Decimal("60.00")),
    ]


def test_an_order_edit_posted_without_the_lines_form_keeps_the_lines(client_as, catalogue):
    order = OrderFactory(amount="120.00")
    OrderLineFactory(order=order, product=catalogue["milk"], quantity=1, unit_price="120.00")
    data = {"customer": order.customer_id, "amount": "120.00", "ordered_at": "2026-03-02 10:00", "external_id": "X-1"}
    response = client_as("sales").post(reverse("customers:order-edit", args=[order.pk]), data)
    assert response.status_code == 302
    order.refresh_from_db()
    assert (order.external_id, [line.product.sku for line in order.lines.all()]) == ("X-1", ["MILK-1"])


def test_the_order_form_shows_a_bad_line_on_its_row(client_as, catalogue):
    customer = CustomerFactory()
    rows = [
        {"product": "", "quantity": "", "unit_price": ""},
        {"product": "TOY-7", "quantity": "1", "unit_price": ""},
        {"product": "OLD-1", "quantity": "1", "unit_price": ""},
    ]
    response = client_as("sales").post(reverse("customers:order-create"), _form(customer, rows))
    assert response.status_code == 422
    formset = response.context["formset"]
    assert formset.forms[2].errors == {"product": ["The product OLD-1 is no longer sold."]}
    assert not Order.objects.exists()
    mismatch = client_as("sales").post(reverse("customers:order-create"), _form(customer, rows[:2], amount="1.00"))
    assert mismatch.status_code == 422 and "amount" in mismatch.context["form"].errors


def test_editing_an_order_with_lines_keeps_the_amount_following_them(client_as, catalogue):
    customer = CustomerFactory()
    client = client_as("sales")
    client.post(reverse("customers:order-create"), _form(customer, [{"product": "MILK-1", "quantity": "1"}]))
    order = Order.objects.get()
    page = client.get(reverse("customers:order-edit", args=[order.pk]))
    assert page.context["formset"].forms[0].initial["product"] == "MILK-1"
    data = _form(customer, [{"product": "MILK-1", "quantity": "3"}], amount="120.00")
    data["lines-INITIAL_FORMS"] = "1"
    response = client.post(reverse("customers:order-edit", args=[order.pk]), data)
    assert response.status_code == 302, response.context and response.context["form"].errors
    order.refresh_from_db()
    assert order.amount == Decimal("360.00") and order.lines.get().quantity == 3


@pytest.mark.parametrize("n", [1, 25])
def test_the_order_page_costs_fixed_queries(client_as, django_assert_max_num_queries, n):
    client = client_as("sales")
    order = OrderFactory()
    for product in ProductFactory.create_batch(n):
        OrderLineFactory(order=order, product=product)
    with django_assert_max_num_queries(8):  # session, user, groups, order, lines, history link, saved views…
        response = client.get(reverse("customers:order-detail", args=[order.pk]))
    assert response.status_code == 200 and len(response.context["order"].line_rows) == n


@pytest.mark.parametrize("n", [3, 60])
def test_the_order_list_page_costs_fixed_queries_and_links_each_order(client_as, django_assert_max_num_queries, n):
    client = client_as("service")
    for order in OrderFactory.create_batch(n):
        OrderLineFactory(order=order)
    client.get(reverse("customers:order-list"))
    with django_assert_max_num_queries(8):
        response = client.get(reverse("customers:order-list"))
    html = response.content.decode()
    first = Order.objects.order_by("-pk").first()
    assert f'href="{reverse("customers:order-detail", args=[first.pk])}"' in html


# --- admin ------------------------------------------------------------------------------------------------------


def _admin_order(customer, rows, **extra) -> dict:
    data = {
        "customer": customer.pk,
        "ordered_at_0": "2026-03-02",
        "ordered_at_1": "10:00:00",
        "external_id": "",
        "lines-TOTAL_FORMS": str(len(rows)),
        "lines-INITIAL_FORMS": "0",
        "lines-MIN_NUM_FORMS": "0",
        "lines-MAX_NUM_FORMS": "1000",
        **extra,
    }
    for index, row in enumerate(rows):
        for key, value in row.items():
            data[f"lines-{index}-{key}"] = value
    return data


def test_the_admin_adds_an_order_with_its_lines_through_the_service(client_as, catalogue):
    customer = CustomerFactory()
    client = client_as("sales")
    rows = [
        {"product": catalogue["milk"].pk, "quantity": "2", "unit_price": ""},
        {"product": catalogue["toy"].pk, "quantity": "1", "unit_price": "30.00"},
    ]
    response = client.post(reverse("admin:customers_order_add"), _admin_order(customer, rows))
    assert response.status_code == 302, response.context and response.context["errors"]
    order = Order.objects.get()
    assert order.amount == Decimal("270.00") and order.lines.count() == 2  # 2 × 120.00 + 30.00
    assert order.created_by == client.user


def test_the_admin_refuses_bad_lines_on_their_row(client_as, catalogue):
    customer = CustomerFactory()
    rows = [
        {"product": catalogue["milk"].pk, "quantity": "1", "unit_price": ""},
        {"product": catalogue["old"].pk, "quantity": "1", "unit_price": ""},
    ]
    response = client_as("sales").post(reverse("admin:customers_order_add"), _admin_order(customer, rows))
    assert response.status_code == 200
    formset = response.context["inline_admin_formsets"][0].formset
    assert formset.forms[1].errors == {"product": ["The product OLD-1 is no longer sold."]}
    mismatch = client_as("sales").post(
        reverse("admin:customers_order_add"), _admin_order(customer, rows[:1], amount="1.00")
    )
    assert mismatch.status_code == 200
    assert "not the sum of the lines" in str(mismatch.context["inline_admin_formsets"][0].formset.non_form_errors())
    assert not Order.objects.exists()


def test_the_admin_shows_an_orders_lines_read_only_and_its_amount_following_them(client_as, catalogue):
    order = services.place_order(
        customer=CustomerFactory(), ordered_at=AT, lines=[{"product": "MILK-1", "quantity": 1}]
    ).order
    page = client_as("sales").get(reverse("admin:customers_order_change", args=[order.pk]))
    html = page.content.decode()
    assert page.status_code == 200 and "Infant milk" in html
    assert 'name="amount"' not in html and 'name="lines-0-quantity"' not in html
    assert 'name="ordered_at_0"' in html  # the rest of the order stays editable


def test_the_admin_changes_an_order_with_lines_without_touching_them(client_as, catalogue):
    order = services.place_order(
        customer=CustomerFactory(), ordered_at=AT, lines=[{"product": "TOY-7", "quantity": 2}]
    ).order
    line = order.lines.get()
    response = client_as("sales").post(
        reverse("admin:customers_order_change", args=[order.pk]),
        {
            "customer": order.customer_id,
            "ordered_at_0": "2026-03-05",
            "ordered_at_1": "09:00:00",
            "external_id": "CHANGED-1",
            "lines-TOTAL_FORMS": "1",
            "lines-INITIAL_FORMS": "1",
            "lines-0-id": line.pk,
            "lines-0-order": order.pk,
        },
    )
    assert response.status_code == 302, response.context and response.context["errors"]
    order.refresh_from_db()
    assert (order.external_id, order.amount, order.lines.get().quantity) == ("CHANGED-1", Decimal("71.00"), 2)
