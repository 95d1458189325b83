import json

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from customers.models import Customer, CustomerIdentity, Order
from feedback.models import Complaint, NpsResponse
from leads.models import Lead, LeadStageChange
from leads.stages import NEXT, Stage
from okr.models import Objective

QUIET = {"stdout": open("/dev/null", "w")}  # noqa: SIM115


def check_history_is_consistent():
    last_stage = {}
    for lead_id, from_stage, to_stage in LeadStageChange.objects.order_by("lead_id", "at", "pk").values_list(
        "lead_id", "from_stage", "to_stage"
    ):
        if lead_id not in last_stage:  # every history starts as leads.services starts it: "" → new
            assert (from_stage, to_stage) == ("", Stage.NEW), (lead_id, from_stage, to_stage)
        else:
            current = last_stage[lead_id]
            assert from_stage == current and to_stage in NEXT[current], (lead_id, from_stage, to_stage)
        last_stage[lead_id] = to_stage
    for lead_id, stage in Lead.objects.values_list("pk", "stage"):
        assert last_stage[lead_id] == stage


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_bench_data_copies_a_small_set_into_postgres():
    call_command("bench_data", scale=0.002, **QUIET)
    assert Customer.objects.count() == 200
    assert CustomerIdentity.objects.count() > 200
    assert Lead.objects.count() == 600
    assert LeadStageChange.objects.count() > 1500
    assert Order.objects.count() == 400
    assert NpsResponse.objects.count() == 100
    assert Complaint.objects.count() == 40
    assert Objective.objects.count() == 6  # three departments, last and this quarter
    check_history_is_consistent()
    # Sequences were moved past the copied ids: ordinary inserts still work.
    customer = Customer.objects.create(name="After bench")
    assert customer.pk > Customer.objects.exclude(pk=customer.pk).order_by("-pk").values_list("pk", flat=True)[0]
    with connection.cursor() as cursor:  # ANALYZE ran, so the planner knows the table sizes
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = %s", [Lead._meta.db_table])
        assert cursor.fetchone()[0] >= 500


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_bench_data_refuses_a_full_database_unless_reset():
    call_command("bench_data", scale=0.001, **QUIET)
    with pytest.raises(CommandError, match="--reset"):
        call_command("bench_data", scale=0.001, **QUIET)
    call_command("bench_data", scale=0.001, reset=True, **QUIET)
    assert Customer.objects.count() == 100


@pytest.mark.django_db
def test_bench_data_refuses_large_scales_on_sqlite():
    if connection.vendor != "sqlite":
        pytest.skip("SQLite only")
    with pytest.raises(CommandError, match="PostgreSQL"):
        call_command("bench_data", scale=0.5, **QUIET)
    assert not Customer.objects.exists()


@pytest.mark.django_db
def test_bench_data_small_scale_works_without_copy():
    call_command("bench_data", scale=0.001, **QUIET)
    assert Customer.objects.count() == 100
    assert Lead.objects.count() == 300
    check_history_is_consistent()


@pytest.mark.django_db
def test_bench_writes_json_with_query_counts(tmp_path):
    call_command("seed_demo", customers=60, leads=150, **QUIET)
    output = tmp_path / "bench.json"
    call_command("bench", runs=1, follow=1, output=str(output), only="pages,board,metrics", **QUIET)
    report = json.loads(output.read_text())
    assert report["rows"]["customers.Customer"] == 60
    assert {row["path"] for row in report["pages"]} >= {"/customers/", "/api/v1/leads/"}
    measured = [row for row in report["pages"] if row["status"] != 404]
    assert all(row["queries"] >= 1 and row["median_ms"] > 0 for row in measured)
    assert set(report["components"]) == {"board", "metrics"}
    assert all(c["status"] in ("ok", "not available") for c in report["components"].values())
