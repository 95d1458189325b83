"""`manage.py bench` (make bench) on a tiny data set: every item is measured beside its floor, last pages are
verified last, the import and the load on gunicorn + wrk report their figures, and the results are written."""

import io
import json
import shutil
import socket

import pytest
from django.core.management import call_command
from django.db.models import Count

from marketing.models import Touchpoint
from okr import metrics

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
needs_wrk = pytest.mark.skipif(
    shutil.which("wrk") is None, reason="needs Debian's wrk (.ci/run and make bench install it)"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@needs_wrk
def test_bench_measures_each_item_against_its_floor_and_writes_the_results(tmp_path):
    call_command("bench_data", scale=0.002, stdout=io.StringIO())
    out = io.StringIO()
    call_command(
        "bench",
        runs=2,
        deep=1,
        import_rows=1000,
        load_seconds=3,
        load_warmup=1,
        port=_free_port(),
        output_dir=str(tmp_path),
        stdout=out,
        stderr=io.StringIO(),
    )
    report = json.loads((tmp_path / "latest.json").read_text(encoding="utf-8"))
    items = {item["key"]: item for item in report["items"]}

    for name in ("leads", "customers", "orders", "complaints"):
        assert {f"api.{name}.first", f"api.{name}.deep", f"api.{name}.last"} <= set(items)
    for name in ("leads", "customers", "complaints"):
        assert {f"page.{name}.first", f"page.{name}.deep", f"page.{name}.last"} <= set(items)
    assert {"page.lead_detail", "page.customer_360", "board.okr", "board.pipeline"} <= set(items)
    assert {key for key in items if key.startswith("metric.")} == {f"metric.{name}" for name in metrics.REGISTRY}
    assert items["api.leads.deep"]["checks"]["depth"] == 1
    # 400 orders with 1–5 lines each (1 + id mod 5): 3 on average; every order in the widened window.
    assert {"affinity", "affinity-all"} <= set(items)
    everything = items["affinity-all"]["checks"]
    assert everything["orders_in_window"] == everything["orders"] and everything["pairs"] > 0
    assert 2.8 <= everything["lines"] / everything["orders"] <= 3.2

    for key, item in items.items():
        assert item["status"] == [200] and item["floor"]["status"] == [200], key
        assert not item.get("problems"), (key, item.get("problems"))
        assert item["runs"] == 2, key
        for figures in (item, item["floor"]):
            assert 0 < figures["median_ms"] <= figures["p95_ms"] <= figures["p99_ms"], key
        assert item["ratio_median"] > 0 and item["ratio_p95"] > 0, key
        assert isinstance(item["queries"], int) and item["queries"] > 0, key
        if key.startswith(("api.", "page.")) and key.rsplit(".", 1)[1] in ("first", "deep", "last"):
            assert item["checks"]["same_rows_as_floor"] and item["checks"]["rows"] > 0, key
        if key.endswith(".last"):
            assert item["checks"]["verified_last"] is True and item["checks"]["next"] is None, key
    assert items["api.leads.last"]["checks"]["position"] is not None  # 600 leads: a real cursor, not page one
    assert items["api.leads.first"]["checks"]["columns_only_in_api"] == []
    assert items["board.okr"]["target"]["limit"] == 300 and items["metric.ltv"]["target"]["limit"] == 200
    assert items["api.leads.first"]["target"]["limit"] == 1.5 and items["page.leads.first"]["target"]["limit"] == 1.5
    assert {"overlap.page.month", "overlap.api.month", "overlap.page.quarter"} <= set(items)
    assert report["rows"]["touchpoint"] == 4000  # 2 million × 0.002

    imported = report["import"]
    assert imported["status"] == "done" and imported["rows"] == 1000
    assert imported["failed"] == 10 and 880 <= imported["created"] <= 900  # 1 % bad, 10 % matched, 89 % new
    assert imported["rows_per_second"] > 0 and 0 < imported["baseline_rss_mb"] <= imported["peak_rss_mb"]

    load = report["load"]
    assert "error" not in load
    for run in ("app", "floor"):
        figures = load[run]
        assert figures["requests"] > 0 and figures["rps"] > 0, run
        assert 0 < figures["p50_ms"] <= figures["p95_ms"] <= figures["p99_ms"], run
        assert figures["errors"] == 0, (run, figures["last_errors"], figures.get("server_traceback"))
        assert figures["writes_sent"] > 0 and figures["reads_sent"] > figures["writes_sent"], run
        assert figures["cpu_ms_per_request"] > 0 and figures["machine_cpu_ms_per_request"] > 0, run
    assert set(load["met"]) == {"rps", "p95_ms", "p99_ms", "errors"}

    table = (tmp_path / "latest.md").read_text(encoding="utf-8")
    assert "| item | median ms | p95 ms | p99 ms | queries |" in table and "**Targets missed" in table
    assert "| item |" in out.getvalue()


def test_bench_measures_the_channel_overlap_beside_its_floor(tmp_path):
    """bench_data writes its touchpoints (2 million × scale over the last half year, about a third of the people
    reached on two or more channels); `--only overlap` measures the page and the API for last month and the page
    for this quarter, each beside the per-channel touch count."""
    call_command("bench_data", scale=0.002, stdout=io.StringIO())
    reached = Touchpoint.objects.values("customer_id").distinct().count()
    multi = (
        Touchpoint.objects.values("customer_id").annotate(n=Count("channel_id", distinct=True)).filter(n__gte=2).count()
    )
    assert Touchpoint.objects.count() == 4000 and 0.25 <= multi / reached <= 0.45
    call_command("bench", only="overlap", runs=2, output_dir=str(tmp_path), stdout=io.StringIO(), stderr=io.StringIO())
    report = json.loads((tmp_path / "latest.json").read_text(encoding="utf-8"))
    items = {item["key"]: item for item in report["items"]}
    assert set(items) == {"overlap.page.month", "overlap.api.month", "overlap.page.quarter"}
    for key, item in items.items():
        assert item["status"] == [200] and item["floor"]["status"] == [200], key
        assert not item.get("problems"), (key, item.get("problems"))
        assert 0 < item["median_ms"] <= item["p95_ms"] and item["ratio_p95"] > 0, key
    month = items["overlap.api.month"]
    assert month["target"] == {"kind": "p95_ms", "limit": 500, "text": "< 500 ms at p95"}
    assert month["checks"]["reached"] > 0 and 0 < month["checks"]["duplicate_reach_rate"] < 1
    assert items["overlap.page.month"]["checks"]["heat_map"] is True
    assert items["overlap.page.quarter"]["target"] is None
    assert "| /marketing/channels/overlap/ (" in (tmp_path / "latest.md").read_text(encoding="utf-8")
