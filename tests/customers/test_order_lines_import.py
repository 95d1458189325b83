"""CSV import of orders with lines: optional columns sku, quantity, unit_price; the rows of one channel and
external_id are the lines of one order whose amount is their sum; each bad cell is an error naming its column, and
a refused row refuses its whole order (never half-written)."""

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile

from customers import imports, tasks
from customers.models import Customer, ImportJob, Order, PointsEntry
from tests.factories import ChannelFactory, CustomerFactory, ProductFactory, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _setup(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    ChannelFactory(code="tmall")
    ProductFactory(sku="MILK-1", price=Decimal("120.00"))
    ProductFactory(sku="TOY-7", price=Decimal("35.50"))
    ProductFactory(sku="OLD-1", is_active=False)


def _run(text: str, *, dry_run=False, role="sales") -> ImportJob:
    upload = SimpleUploadedFile("orders.csv", text.encode(), content_type="text/csv")
    job = imports.start_import(by=make_user(role), kind="orders", upload=upload, dry_run=dry_run)
    tasks.run_import(job.pk)
    return ImportJob.objects.get(pk=job.pk)


def _errors(job) -> list[tuple[int, str, str]]:
    return [(e.row_number, e.column, e.reason) for e in job.row_errors.order_by("row_number", "pk")]


def _lines(order) -> list[tuple[str, int, Decimal]]:
    return list(order.lines.order_by("pk").values_list("product__sku", "quantity", "unit_price"))


HEADER = "phone,name,customer_id,amount,ordered_at,channel,external_id,sku,quantity,unit_price\n"


def test_rows_of_one_external_id_are_one_order_with_its_lines(api_as):
    known = CustomerFactory()
    text = HEADER + (
        "13600000001,Wang Fang,,,2026-03-01 10:00,tmall,T-1,MILK-1,2,\n"  # 2 × 120.00
        ",,,,,tmall,T-1,TOY-7,1,30.00\n"  # the same order: no customer or time needed
        f",,{known.pk},71.00,2026-03-02,tmall,T-2,TOY-7,2,\n"  # amount given and right: 2 × 35.50
        "13600000003,Li,,12.50,2026-03-03,tmall,T-3,,,\n"  # no line: a plain order
        "13600000004,Zhao,,,2026-03-04,,,MILK-1,1,99.00\n"  # a line without an external id: its own order
    )
    dry = _run(text, dry_run=True)
    job = _run(text)
    assert (dry.created_count, dry.failed_count) == (job.created_count, job.failed_count) == (4, 0)
    first = Order.objects.get(external_id="T-1")
    assert first.amount == Decimal("270.00") and first.customer.name == "Wang Fang"  # 240.00 + 30.00
    assert _lines(first) == [("MILK-1", 2, Decimal("120.00")), ("TOY-7", 1, Decimal("30.00"))]
    second = Order.objects.get(external_id="T-2")
    assert (second.customer_id, second.amount, _lines(second)) == (
        known.pk,
        Decimal("71.00"),
        [("TOY-7", 2, Decimal("35.50"))],
    )
    assert Order.objects.get(external_id="T-3").lines.count() == 0
    zhao = Order.objects.get(customer__name="Zhao")
    assert (zhao.amount, _lines(zhao)) == (Decimal("99.00"), [("MILK-1", 1, Decimal("99.00"))])
    # Imported orders earn their points like any other (customers.loyalty, set-based): floor(270) for Wang Fang.
    assert PointsEntry.objects.get(order=first).points == 270
    again = _run(text)
    assert (again.created_count, again.updated_count) == (0, 4) and Order.objects.count() == 4


def test_a_bad_line_refuses_its_whole_order_naming_the_column():
    text = HEADER + (
        "13600000001,A,,,2026-03-01,tmall,T-1,MILK-1,1,\n"
        ",,,,,tmall,T-1,NOPE-1,1,\n"  # unknown SKU: T-1 refused whole
        "13600000002,B,,,2026-03-01,tmall,T-2,TOY-7,0,\n"  # quantity 0
        "13600000003,C,,,2026-03-01,tmall,T-3,TOY-7,1.5,\n"  # not whole
        "13600000004,D,,,2026-03-01,tmall,T-4,TOY-7,1,1.005\n"  # three decimals
        "13600000005,E,,,2026-03-01,tmall,T-5,OLD-1,1,\n"  # inactive
        "13600000006,F,,100.00,2026-03-01,tmall,T-6,TOY-7,2,\n"  # amount disagrees: 2 × 35.50 + 120.00 = 191.00
        ",,,,,tmall,T-6,MILK-1,1,\n"  # refused with it
        "13600000007,G,,,2026-03-01,tmall,T-7,TOY-7,1,\n"  # fine
        ",,,,,tmall,T-7,MILK-1,1,-2\n"  # negative unit price: T-7 refused whole
        "13600000008,H,,,2026-03-01,tmall,T-8,,3,\n"  # a quantity without a SKU (and no amount)
    )
    job = _run(text)
    assert (job.created_count, job.failed_count) == (0, 11)
    assert _errors(job) == [
        (2, "", "Row 3 of this order was refused."),
        (3, "sku", "No product has the SKU NOPE-1."),
        (4, "quantity", "The quantity must be at least 1."),
        (5, "quantity", "Enter a whole number."),
        (6, "unit_price", "Use at most 2 decimals."),
        (7, "sku", "The product OLD-1 is no longer sold."),
        (8, "amount", "The amount 100.00 is not the sum of the lines, 191.00; leave it out or correct it."),
        (9, "", "Row 8 of this order was refused."),
        (10, "", "Row 11 of this order was refused."),
        (11, "unit_price", "The amount may not be negative."),
        (12, "sku", "Give the product's SKU for this line."),
        (12, "amount", "This field is required."),
    ]
    assert not Order.objects.exists() and not Customer.objects.exists()


def test_a_later_row_may_not_name_another_customer_or_time():
    known = CustomerFactory()
    text = HEADER + (
        f",,{known.pk},,2026-03-01,tmall,T-1,MILK-1,1,\n"
        "13600000009,,,,,tmall,T-1,TOY-7,1,\n"  # another customer
        f",,{known.pk},,2026-03-01,tmall,T-2,MILK-1,1,\n"
        ",,,,2026-03-05,tmall,T-2,TOY-7,1,\n"  # another time
        ",,,,,tmall,T-3,TOY-7,1,\n"  # no row of T-3 names a customer
    )
    job = _run(text)
    assert job.created_count == 0
    assert _errors(job) == [
        (2, "", "Row 3 of this order was refused."),
        (3, "phone", "Row 2 of this order says otherwise."),
        (4, "", "Row 5 of this order was refused."),
        (5, "ordered_at", "Row 4 of this order says otherwise."),
        (6, "name", "Give a name or a contact method."),
    ]


def test_an_order_is_never_split_across_batches(monkeypatch):
    monkeypatch.setattr(imports, "BATCH_SIZE", 2)
    text = HEADER + (
        "13600000001,A,,,2026-03-01,tmall,T-1,MILK-1,1,\n"
        ",,,,,tmall,T-1,TOY-7,1,\n"
        ",,,,,tmall,T-1,TOY-7,2,\n"  # a third line: the batch of two runs on
        "13600000002,B,,5.00,2026-03-02,tmall,T-2,,,\n"
        "13600000003,C,,,2026-03-03,tmall,T-3,MILK-1,1,\n"
        "13600000004,D,,,2026-03-04,tmall,T-4,MILK-1,1,\n"
        ",,,,,tmall,T-3,TOY-7,1,\n"  # T-3 again, two batches later: refused, not split
    )
    job = _run(text)
    first = Order.objects.get(external_id="T-1")
    assert first.amount == Decimal("226.50") and first.lines.count() == 3  # 120.00 + 35.50 + 2 × 35.50
    assert job.created_count == 4 and Order.objects.filter(external_id="T-3").get().lines.count() == 1
    assert _errors(job) == [
        (8, "external_id", "Row 6 has the same external_id: put an order's rows next to each other.")
    ]


def test_service_may_import_orders_and_marketing_may_not():
    text = HEADER + "13600000001,A,,5.00,2026-03-01,tmall,T-1,,,\n"
    assert _run(text, role="service").created_count == 1
    with pytest.raises(PermissionDenied):
        _run(text, role="marketing")


def test_a_file_without_lines_still_needs_its_amount_column(api_as):
    upload = SimpleUploadedFile("o.csv", b"phone,ordered_at\n13600000001,2026-03-01\n", content_type="text/csv")
    response = api_as("sales").post("/api/v1/imports/", {"kind": "orders", "file": upload}, format="multipart")
    assert response.status_code == 400 and "amount" in response.json()["detail"]
    upload = SimpleUploadedFile(
        "o.csv", b"phone,ordered_at,sku\n13600000001,2026-03-01,MILK-1\n", content_type="text/csv"
    )
    response = api_as("sales").post("/api/v1/imports/", {"kind": "orders", "file": upload}, format="multipart")
    assert response.status_code == 400 and "quantity" in response.json()["detail"]
