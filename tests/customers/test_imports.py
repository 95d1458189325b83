import codecs

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from customers.models import Customer, CustomerIdentity, ImportJob, Order
from leads.models import Lead
from tests.factories import ChannelFactory, CustomerFactory, CustomerIdentityFactory

CUSTOMERS_CSV = (
    "name,company,city,phone,email,wechat\n"
    "李娜,星辰科技,上海,138 1234 5678,LI.NA@example.com,wx_lina\n"
    "Wang Wei,ACME,Beijing,+86-139-0000-0001,,\n"
    "Bad Phone,ACME,Beijing,12345,,\n"
    "Bad Email,,,,not-an-email,\n"
    ",,,,,\n"
    "Li Na again,,,+8613812345678,,\n"
    ",,,,,wx_only\n"
    ",Nameless Co,,,,\n"
)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def _upload(api, kind, text, *, encoding="utf-8", dry_run=True, name="file.csv"):
    data = text.encode(encoding)
    if encoding == "utf-8-sig":
        assert data.startswith(codecs.BOM_UTF8)
    file = SimpleUploadedFile(name, data, content_type="text/csv")
    return api.post("/api/v1/imports/", {"kind": kind, "file": file, "dry_run": dry_run}, format="multipart")


def _dry_then_run(api, capture, kind, text, **kwargs):
    with capture(execute=True):
        response = _upload(api, kind, text, **kwargs)
    assert response.status_code == 202, response.content
    dry = api.get(f"/api/v1/imports/{response.json()['id']}/").json()
    assert dry["status"] == "done", dry
    with capture(execute=True):
        run = api.post(f"/api/v1/imports/{dry['id']}/run/")
    assert run.status_code == 202, run.content
    return dry, api.get(f"/api/v1/imports/{run.json()['id']}/").json()


@pytest.mark.django_db
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_customer_import_dry_run_then_real_run_then_reimport(api_as, django_capture_on_commit_callbacks, encoding):
    api = api_as("marketing")
    existing = CustomerIdentityFactory(kind="wechat", value="wx_lina").customer
    dry, real = _dry_then_run(api, django_capture_on_commit_callbacks, "customers", CUSTOMERS_CSV, encoding=encoding)
    # rows 2 (matches existing by wechat), 3 new, 4/5 bad, 6 empty (skipped), 7 refused: the same phone as
    # row 2 (one row per customer; never fused), 8 new (wechat only), 9 bad (no name, no contact)
    assert (dry["created_count"], dry["updated_count"], dry["failed_count"]) == (2, 1, 4)
    assert dry["encoding"] == {"utf-8": "utf-8", "utf-8-sig": "utf-8-sig", "gb18030": "gb18030"}[encoding]
    assert {(e["row"], e["column"]) for e in dry["errors"]} == {(4, "phone"), (5, "email"), (7, "phone"), (9, "name")}
    assert next(e["reason"] for e in dry["errors"] if e["row"] == 7) == "Row 2 has the same phone."
    assert (real["status"], real["created_count"], real["updated_count"], real["failed_count"]) == ("done", 2, 1, 4)
    assert real["errors"] == dry["errors"]
    assert Customer.objects.count() == 3
    existing.refresh_from_db()
    assert set(existing.identities.values_list("value", flat=True)) == {
        "wx_lina",
        "+8613812345678",
        "li.na@example.com",
    }
    assert existing.company == "星辰科技" or existing.company  # blank filled only when it was blank
    assert Customer.objects.filter(name="Wang Wei", identities__value="+8613900000001").exists()
    assert Customer.objects.filter(name="wx_only").exists()

    again_dry, again = _dry_then_run(api, django_capture_on_commit_callbacks, "customers", CUSTOMERS_CSV)
    assert (again_dry["created_count"], again["created_count"], again["updated_count"]) == (0, 0, 3)
    assert Customer.objects.count() == 3 and CustomerIdentity.objects.count() == 5


@pytest.mark.django_db
def test_dry_run_writes_nothing(api_as, django_capture_on_commit_callbacks):
    api = api_as("marketing")
    with django_capture_on_commit_callbacks(execute=True):
        job = _upload(api, "customers", CUSTOMERS_CSV).json()
    assert api.get(f"/api/v1/imports/{job['id']}/").json()["created_count"] == 3
    assert Customer.objects.count() == 0 and CustomerIdentity.objects.count() == 0


@pytest.mark.django_db
def test_error_report_csv_lists_row_column_reason(api_as, django_capture_on_commit_callbacks):
    api = api_as("marketing")
    with django_capture_on_commit_callbacks(execute=True):
        job_id = _upload(api, "customers", CUSTOMERS_CSV).json()["id"]
    report = api.get(f"/api/v1/imports/{job_id}/errors.csv/")
    assert report.status_code == 200
    lines = b"".join(report.streaming_content if report.streaming else [report.content]).decode().splitlines()
    assert lines[0] == "row,column,reason"
    assert lines[1].startswith("4,phone,")


@pytest.mark.django_db
def test_lead_import_creates_new_leads_with_tags_once(api_as, django_capture_on_commit_callbacks):
    api = api_as("marketing")
    ChannelFactory(code="wechat")
    text = (
        "name,phone,source_channel,tags,interest\n"
        "Zhao,13700000001,wechat,vip;expo,Demo\n"
        "Qian,13700000002,nope,,\n"
        "Zhao,137-0000-0001,wechat,vip,Demo\n"
    )
    dry, real = _dry_then_run(api, django_capture_on_commit_callbacks, "leads", text)
    assert (dry["created_count"], dry["updated_count"], dry["failed_count"]) == (1, 1, 1)
    assert (real["created_count"], real["updated_count"], real["failed_count"]) == (1, 1, 1)
    lead = Lead.objects.get()
    assert lead.stage == "new" and lead.source_channel.code == "wechat" and lead.interest == "Demo"
    assert sorted(lead.tags.values_list("name", flat=True)) == ["expo", "vip"]
    # Its first history row, as a lead created through the API gets: time in "new" counts from the import.
    assert list(lead.stage_changes.values_list("from_stage", "to_stage")) == [("", "new")]
    _dry, again = _dry_then_run(api, django_capture_on_commit_callbacks, "leads", text)
    assert again["created_count"] == 0 and Lead.objects.count() == 1


@pytest.mark.django_db
def test_order_import_matches_customers_and_dedupes_external_ids(api_as, django_capture_on_commit_callbacks):
    api = api_as("sales")
    ChannelFactory(code="tmall")
    known = CustomerFactory()
    text = (
        "customer_id,phone,name,amount,ordered_at,channel,external_id\n"
        f"{known.pk},,,199.00,2026-03-01,tmall,T-1\n"
        ",13600000009,New Buyer,88,2026-03-02 10:30,tmall,T-2\n"
        ",13600000009,,88,2026-03-02 10:30,tmall,T-2\n"
        ",13600000009,,-5,2026-03-02,tmall,T-3\n"
        ",13600000009,,5,yesterday,tmall,T-4\n"
        "999999,,,5,2026-03-02,tmall,T-5\n"
        ",13600000009,,12.50,2026-03-05,,\n"
    )
    dry, real = _dry_then_run(api, django_capture_on_commit_callbacks, "orders", text)
    # row 4 repeats row 3's external id: an error naming row 3, not a silent merge
    assert (dry["created_count"], dry["updated_count"], dry["failed_count"]) == (3, 0, 4)
    assert (real["created_count"], real["updated_count"], real["failed_count"]) == (3, 0, 4)
    assert {"row": 4, "column": "external_id", "reason": "Row 3 has the same external_id."} in real["errors"]
    assert Order.objects.count() == 3
    buyer = Customer.objects.get(identities__value="+8613600000009")
    assert buyer.orders.count() == 2
    _dry, again = _dry_then_run(api, django_capture_on_commit_callbacks, "orders", text)
    assert again["created_count"] == 0 and Order.objects.count() == 3


IMPORT_FILES = {
    "customers": CUSTOMERS_CSV,
    "leads": "name,phone,channel,interest\nLi,13800000011,wechat,Demo\n",
    "orders": "phone,name,amount,ordered_at,channel,external_id\n13600000009,Buyer,88,2026-03-02,tmall,T-9\n",
}
# Importing a row needs the permission to create that row through the API (DESIGN.md "Roles").
IMPORT_MATRIX = {
    "customers": {"marketing": 202, "sales": 202, "service": 202, "sales_manager": 202},
    "leads": {"marketing": 202, "marketing_manager": 202, "sales": 403, "sales_manager": 403, "service_manager": 403},
    "orders": {"sales": 202, "sales_manager": 202, "marketing_manager": 202, "marketing": 403, "service": 202},
}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kind", "role", "status"), [(k, r, s) for k, roles in IMPORT_MATRIX.items() for r, s in roles.items()]
)
def test_import_permissions_follow_the_api(api_as, kind, role, status):
    ChannelFactory(code="wechat")
    ChannelFactory(code="tmall")
    response = _upload(api_as(role), kind, IMPORT_FILES[kind])
    assert response.status_code == status, response.content


@pytest.mark.django_db
def test_bad_header_is_refused_naming_the_file(api_as):
    response = _upload(api_as("sales"), "orders", "name,phone\nA,13800000000\n")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "file"


@pytest.mark.django_db
def test_stalled_import_is_revived_by_the_sweep(api_as, django_capture_on_commit_callbacks):
    from datetime import timedelta

    from django.utils import timezone

    from config import jobs

    api = api_as("marketing")
    job_id = _upload(api, "customers", CUSTOMERS_CSV).json()["id"]  # on_commit not run: the message is lost
    ImportJob.objects.filter(pk=job_id).update(created_at=timezone.now() - timedelta(hours=2))
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs.sweep_stalled() >= 1
    job = ImportJob.objects.get(pk=job_id)
    assert (job.status, job.attempts, job.created_count) == ("done", 1, 3)


@pytest.mark.django_db
def test_a_row_whose_cells_do_not_match_the_header_is_refused_whole(api_as, django_capture_on_commit_callbacks):
    text = "name,company,phone\nOnly One Cell\nToo,Many,13800000001,cells\nFine,ACME,13800000002\n"
    dry, real = _dry_then_run(api_as("marketing"), django_capture_on_commit_callbacks, "customers", text)
    assert (real["created_count"], real["failed_count"]) == (1, 2)
    assert [(e["row"], e["reason"]) for e in real["errors"]] == [
        (2, "This row has 1 cells; the first row names 3 columns."),
        (3, "This row has 4 cells; the first row names 3 columns."),
    ]
    assert list(Customer.objects.values_list("name", flat=True)) == ["Fine"]
