"""CSV import of products (kind "products"): columns sku, name, category, price, is_active; a known SKU's product
is updated; each bad cell is an error naming its column; GB18030 like every import; the writers of the catalogue
alone may import it, and a product file never creates a customer."""

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from customers.models import Customer, Product
from tests.conftest import ROLES
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db

FILE = (
    "sku,name,category,price,is_active\n"
    "MILK-1,Infant milk,baby food,120,yes\n"  # known: updated
    "TOY-7,Stacking rings,toys,35.5,\n"  # new, active
    "OLD-1,Rattle,toys,9.90,no\n"  # new, inactive
    "BAD-1,Spoon,baby food,-1,yes\n"  # negative price
    "BAD-2,Cup,baby food,1.005,yes\n"  # three decimals
    "BAD-3,,baby food,5,yes\n"  # no name
    "BAD-4,Bowl,,5,maybe\n"  # no category, is_active neither yes nor no
    "TOY-7,Rings again,toys,36,yes\n"  # the same SKU as row 3
)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def _upload(api, text, *, encoding="utf-8", dry_run=True):
    file = SimpleUploadedFile("products.csv", text.encode(encoding), content_type="text/csv")
    return api.post("/api/v1/imports/", {"kind": "products", "file": file, "dry_run": dry_run}, format="multipart")


def _dry_then_run(api, capture, text, **kwargs):
    with capture(execute=True):
        response = _upload(api, text, **kwargs)
    assert response.status_code == 202, response.content
    dry = api.get(f"/api/v1/imports/{response.json()['id']}/").json()
    assert dry["status"] == "done", dry
    with capture(execute=True):
        run = api.post(f"/api/v1/imports/{dry['id']}/run/")
    assert run.status_code == 202, run.content
    return dry, api.get(f"/api/v1/imports/{run.json()['id']}/").json()


def test_dry_run_then_real_run_creates_and_updates_and_names_bad_cells(api_as, django_capture_on_commit_callbacks):
    ProductFactory(sku="MILK-1", name="Old name", category="milk", price=Decimal("99.00"), is_active=False)
    api = api_as("sales_manager")
    dry, real = _dry_then_run(api, django_capture_on_commit_callbacks, FILE)
    counts = ("created_count", "updated_count", "failed_count")
    assert [dry[c] for c in counts] == [real[c] for c in counts] == [2, 1, 5]
    assert sorted((e["row"], e["column"]) for e in real["errors"]) == [
        (5, "price"),
        (6, "price"),
        (7, "name"),
        (8, "category"),
        (8, "is_active"),
        (9, "sku"),
    ]
    reasons = {(e["row"], e["column"]): e["reason"] for e in real["errors"]}
    assert reasons[(5, "price")] == "The amount may not be negative."
    assert reasons[(6, "price")] == "Use at most 2 decimals."
    assert reasons[(9, "sku")] == "Row 3 has the same sku."
    got = {p.sku: (p.name, p.category, p.price, p.is_active) for p in Product.objects.all()}
    assert got == {
        "MILK-1": ("Infant milk", "baby food", Decimal("120.00"), True),
        "TOY-7": ("Stacking rings", "toys", Decimal("35.50"), True),
        "OLD-1": ("Rattle", "toys", Decimal("9.90"), False),
    }
    assert not Customer.objects.exists()  # the name column is the product's
    _dry, again = _dry_then_run(api, django_capture_on_commit_callbacks, FILE)
    assert (again["created_count"], again["updated_count"]) == (0, 3) and Product.objects.count() == 3


def test_a_dry_run_writes_nothing(api_as, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = _upload(api_as("admin"), FILE)
    assert response.status_code == 202 and not Product.objects.exists()


def test_gb18030_with_chinese_headers(api_as, django_capture_on_commit_callbacks):
    text = "商品编码,商品名称,品类,价格,在售\nNAI-1,婴儿奶粉,母婴,¥1,299.00,是\nWAN-2,积木,玩具,59,否\n"
    text = text.replace("¥1,299.00", '"¥1,299.00"')  # a spreadsheet quotes the thousands separator
    dry, real = _dry_then_run(api_as("marketing_manager"), django_capture_on_commit_callbacks, text, encoding="gb18030")
    assert dry["encoding"] == "gb18030" and real["created_count"] == 2 and real["failed_count"] == 0
    assert {p.sku: (p.name, p.category, p.price, p.is_active) for p in Product.objects.all()} == {
        "NAI-1": ("婴儿奶粉", "母婴", Decimal("1299.00"), True),
        "WAN-2": ("积木", "玩具", Decimal("59.00"), False),
    }


def test_a_header_without_the_required_columns_is_refused_naming_the_file(api_as):
    response = _upload(api_as("admin"), "sku,name\nA,B\n")
    assert response.status_code == 400
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [("file", "missing_columns")]
    assert "category, price" in response.json()["detail"]


@pytest.mark.parametrize("role", ROLES)
def test_importing_products_needs_the_permission_to_write_them(api_as, role):
    response = _upload(api_as(role), FILE)
    assert response.status_code == (202 if role in {"sales_manager", "marketing_manager", "admin"} else 403)
