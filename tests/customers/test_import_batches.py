"""Customer imports across several batches: matching, resuming, filling blanks, and the COPY fast path."""

import gc

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from customers import imports, tasks
from customers.models import Customer, CustomerIdentity, ImportJob
from leads.models import Lead
from tests.factories import ChannelFactory, CustomerFactory, CustomerIdentityFactory, make_user

# Six data rows, two per batch below: row 4 updates the customer who exists before (filling blanks), row 5 is
# bad, row 7 repeats row 2's email (two batches earlier).
FILE = (
    "name,company,city,phone,email\n"
    "Wang Wei,ACME,Beijing,+86 139 0000 0001,wang@example.com\n"
    "Zhao,,,13700000003,\n"
    "Li Na (work),Stars Ltd,Beijing,138 1234 5678,li@example.com\n"
    "Bad,,,12345,\n"
    "Qian,,Shenzhen,0086 136 0000 0005,\n"
    "Sun,,,,WANG@example.com\n"
)


def _existing_li_na():
    customer = CustomerFactory(name="Li Na", company="", city="上海")
    CustomerIdentityFactory(customer=customer, kind="phone", value="+8613812345678")
    return customer


@pytest.fixture(autouse=True)
def _media_and_small_batches(settings, tmp_path, monkeypatch):
    settings.MEDIA_ROOT = tmp_path
    monkeypatch.setattr(imports, "BATCH_SIZE", 2)


def _start(text, *, dry_run):
    upload = SimpleUploadedFile("customers.csv", text.encode(), content_type="text/csv")
    return imports.start_import(by=make_user("marketing"), kind="customers", upload=upload, dry_run=dry_run)


def _run(text, *, dry_run=False) -> ImportJob:
    job = _start(text, dry_run=dry_run)
    tasks.run_import(job.pk)
    return ImportJob.objects.get(pk=job.pk)


def _counts(job):
    return job.status, job.created_count, job.updated_count, job.failed_count


@pytest.mark.django_db
def test_a_file_in_many_batches_matches_fills_blanks_and_imports_once():
    li = _existing_li_na()
    dry = _run(FILE, dry_run=True)
    job = _run(FILE)
    assert _counts(dry) == _counts(job) == ("done", 3, 1, 2)
    assert [(e.row_number, e.column, e.reason) for e in job.row_errors.order_by("row_number")] == [
        (5, "phone", "Not a valid phone number."),
        (7, "email", "Row 2 has the same email."),
    ]
    li.refresh_from_db()
    assert (li.name, li.company, li.city) == ("Li Na", "Stars Ltd", "上海")  # blanks filled, never overwritten
    assert sorted(CustomerIdentity.objects.values_list("customer__name", "kind", "value", "source_system")) == [
        ("Li Na", "email", "li@example.com", ""),
        ("Li Na", "phone", "+8613812345678", ""),
        ("Qian", "phone", "+8613600000005", ""),
        ("Wang Wei", "email", "wang@example.com", ""),
        ("Wang Wei", "phone", "+8613900000001", ""),
        ("Zhao", "phone", "+8613700000003", ""),
    ]
    assert gc.isenabled()  # the collector paused for the job only

    again = _run(FILE)
    assert _counts(again) == ("done", 0, 4, 2)
    assert Customer.objects.count() == 4 and CustomerIdentity.objects.count() == 6
    assert _run(FILE, dry_run=True).created_count == 0


@pytest.mark.django_db
def test_a_failed_run_resumes_after_its_last_committed_batch(monkeypatch):
    _existing_li_na()
    job = _start(FILE, dry_run=False)
    real_beat, beats = imports.jobs.beat, []

    def beat_then_die(job, **fields):
        real_beat(job, **fields)
        beats.append(fields)
        if len(beats) == 2:  # inside the second batch's transaction: it is rolled back
            raise ConnectionError("worker lost")

    monkeypatch.setattr(imports.jobs, "beat", beat_then_die)
    with pytest.raises(ConnectionError):
        tasks.run_import(job.pk)
    job.refresh_from_db()
    assert (job.status, job.rows_done, job.created_count) == ("queued", 2, 2)
    assert Customer.objects.count() == 3

    monkeypatch.setattr(imports.jobs, "beat", real_beat)
    tasks.run_import(job.pk)
    job.refresh_from_db()
    # the same result as an uninterrupted run: row 7 still repeats row 2, from the batch that was skipped
    assert (*_counts(job), job.rows_done, job.attempts) == ("done", 3, 1, 2, 6, 2)
    assert [e.row_number for e in job.row_errors.order_by("row_number")] == [5, 7]
    assert Customer.objects.count() == 4 and CustomerIdentity.objects.count() == 6


@pytest.mark.django_db
def test_an_identity_of_a_merged_customer_matches_the_survivor():
    survivor = CustomerFactory(company="")
    tombstone = CustomerFactory(merged_into=survivor)
    CustomerIdentityFactory(customer=tombstone, kind="phone", value="+8613812345678")
    job = _run("name,company,phone,wechat\nLi Na,ACME,13812345678,wx_li\n")
    assert _counts(job) == ("done", 0, 1, 0)
    survivor.refresh_from_db()
    assert survivor.company == "ACME"
    assert list(survivor.identities.values_list("kind", "value")) == [("wechat", "wx_li")]
    assert Customer.objects.count() == 2


@pytest.mark.django_db
def test_lead_rows_sharing_a_contact_become_one_customer_with_all_its_identities(api_as):
    ChannelFactory(code="wechat")
    text = (
        "name,phone,email,source_channel,interest\n"
        "Zhao,13700000001,zhao@example.com,wechat,Demo\n"
        "Zhao,137-0000-0001,zhao@work.example.com,wechat,Trial\n"
    )
    upload = SimpleUploadedFile("leads.csv", text.encode(), content_type="text/csv")
    job = imports.start_import(by=make_user("marketing"), kind="leads", upload=upload, dry_run=False)
    tasks.run_import(job.pk)
    customer = Customer.objects.get()
    assert customer.source_channel.code == "wechat"
    assert sorted(customer.identities.values_list("value", flat=True)) == [
        "+8613700000001",
        "zhao@example.com",
        "zhao@work.example.com",
    ]
    assert sorted(Lead.objects.values_list("interest", flat=True)) == ["Demo", "Trial"]


@pytest.mark.postgres
@pytest.mark.django_db
def test_an_identity_claimed_after_the_probe_stays_with_its_owner(monkeypatch):
    # Another writer takes row 2's phone between the batch's probe and its COPY: the COPY fails on the unique
    # value, and the batch falls back to INSERT … ON CONFLICT DO NOTHING (the other identities still land).
    owner = CustomerIdentityFactory(kind="phone", value="+8613812345678").customer
    probe = imports._PostgresResolver._owners
    monkeypatch.setattr(
        imports._PostgresResolver, "_owners", lambda self, keys: probe(self, {k for k in keys if k[0] != "phone"})
    )
    job = _run("name,phone,email\nLi Na,13812345678,li@example.com\nWang,13900000001,\n")
    assert _counts(job) == ("done", 2, 0, 0)
    assert CustomerIdentity.objects.get(value="+8613812345678").customer == owner
    assert Customer.objects.get(identities__value="li@example.com").name == "Li Na"
    assert Customer.objects.filter(identities__value="+8613900000001").exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_probes_read_ahead_on_their_own_connection_see_what_earlier_batches_wrote():
    # Outside a transaction (as in a worker) each batch is probed while earlier ones are still being written:
    # a contact the batches just before created is matched all the same.
    ChannelFactory(code="wechat")
    rows = [f"Zhao {n},13700000001,zhao{n}@example.com,wechat,Interest {n}" for n in range(12)]
    upload = SimpleUploadedFile("leads.csv", "\n".join(["name,phone,email,source_channel,interest", *rows]).encode())
    job = imports.start_import(by=make_user("marketing"), kind="leads", upload=upload, dry_run=False)
    tasks.run_import(job.pk)
    assert _counts(ImportJob.objects.get(pk=job.pk)) == ("done", len(rows), 0, 0)
    customer = Customer.objects.get()
    assert customer.identities.count() == len(rows) + 1 and Lead.objects.filter(customer=customer).count() == len(rows)

    li = _existing_li_na()
    assert _counts(_run(FILE, dry_run=True)) == _counts(_run(FILE)) == ("done", 3, 1, 2)
    li.refresh_from_db()
    assert li.company == "Stars Ltd" and Customer.objects.count() == 5


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_customer_merged_after_the_read_ahead_probe_hands_its_rows_to_the_survivor(monkeypatch):
    survivor = CustomerFactory(company="")
    duplicate = CustomerFactory(merged_into=survivor)  # merged after the probe: the probe still saw it live
    CustomerIdentityFactory(customer=survivor, kind="phone", value="+8613812345678")
    monkeypatch.setattr(
        imports._PostgresResolver, "owners", lambda self, rows: {k: duplicate.pk for r in rows for k in r.identities}
    )
    job = _run("name,company,phone\nLi Na,ACME,13812345678\n")
    assert _counts(job) == ("done", 0, 1, 0)
    survivor.refresh_from_db()
    assert survivor.company == "ACME" and Customer.objects.count() == 2
