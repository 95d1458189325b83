"""`manage.py bench` (what `make bench` runs): page and API timings plus each app's own benchmark.

Prints a table and writes the same figures as JSON to `$RELAY_VAR_DIR/bench.json` (default `var/bench.json`).
Pages are fetched with Django's test Client as a demo manager, with DEBUG off and the queries of each
request captured, so the figures are the view's work without the network or a server in between.
"""

import importlib
import json
import platform
import statistics
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path

import django
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings

from customers.models import Customer, Order
from demo import data as demo
from feedback.models import Complaint, NpsResponse
from leads.models import Lead, LeadStageChange

PAGES = [
    "/customers/",
    "/leads/",
    "/leads/board/",
    "/feedback/complaints/",
    "/okr/",
    "/api/v1/customers/",
    "/api/v1/leads/",
    "/api/v1/orders/",
    "/api/v1/complaints/",
]
COMPONENTS = [
    # name, dotted function, keyword arguments (filled from options)
    ("board", "leads.bench.bench_board", {}),
    ("metrics", "okr.bench.bench_metrics", {}),
    ("import", "customers.bench.bench_import", {"rows": "import_rows"}),
]


def _plain(value):
    """JSON-safe copy of whatever a component returns."""
    return json.loads(json.dumps(value, default=str))


class Command(BaseCommand):
    help = "Measure key pages and API lists (queries, median time) and run each app's benchmark; writes bench.json."

    def add_arguments(self, parser):
        parser.add_argument("--runs", type=int, default=5, help="Timed requests per page (median reported).")
        parser.add_argument("--follow", type=int, default=3, help="API lists: follow `next` this many times.")
        parser.add_argument("--user", default="sales_manager", help="Demo user the pages are fetched as.")
        parser.add_argument("--import-rows", type=int, default=100_000, help="Rows for customers.bench.bench_import.")
        parser.add_argument(
            "--only",
            default="pages,board,metrics,import",
            help="Comma-separated parts to run: pages, board, metrics, import.",
        )
        parser.add_argument("--output", default=None, help="JSON file (default: <RELAY_VAR_DIR>/bench.json).")

    def handle(self, *args, runs, follow, user, import_rows, only, output, **options):
        parts = {p.strip() for p in only.split(",") if p.strip()}
        # WhiteNoise warns once per client that STATIC_ROOT was never collected; irrelevant to timings.
        warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)
        if runs < 1:
            raise CommandError("--runs must be at least 1.")
        report = {
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "database": connection.vendor,
            "django": django.get_version(),
            "python": platform.python_version(),
            "rows": self.table_sizes(),
            "pages": [],
            "components": {},
        }
        # Plain static storage: the manifest needs collectstatic, which a benchmark should not depend on.
        with override_settings(
            DEBUG=False,
            SECURE_SSL_REDIRECT=False,
            ALLOWED_HOSTS=["testserver", *settings.ALLOWED_HOSTS],
            STORAGES={
                **settings.STORAGES,
                "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
            },
        ):
            if "pages" in parts:
                report["pages"] = self.bench_pages(user=user, runs=runs, follow=follow)
            failed = []
            for name, dotted, kwargs in COMPONENTS:
                if name in parts:
                    values = {k: (import_rows if v == "import_rows" else v) for k, v in kwargs.items()}
                    report["components"][name] = result = self.run_component(dotted, values)
                    if result["status"] == "error":
                        failed.append(name)

        path = Path(output) if output else Path(settings.VAR_DIR) / "bench.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        self.print_report(report)
        self.stdout.write(f"Wrote {path}")
        if failed:
            raise CommandError("Benchmark failed: " + ", ".join(failed))

    # ------------------------------------------------------------------ pages

    def table_sizes(self) -> dict[str, int]:

        return {
            m._meta.label: m.objects.count() for m in (Customer, Order, Lead, LeadStageChange, Complaint, NpsResponse)
        }

    def timed_get(self, client: Client, url: str, runs: int):
        client.get(url)  # warm-up: caches, lazy imports, the session row
        times, queries, response = [], 0, None
        for _ in range(runs):
            with CaptureQueriesContext(connection) as ctx:
                started = time.perf_counter()
                response = client.get(url)
                times.append((time.perf_counter() - started) * 1000)
            queries = max(queries, len(ctx.captured_queries))
        return response, queries, statistics.median(times)

    def bench_pages(self, *, user: str, runs: int, follow: int) -> list[dict]:
        User = get_user_model()
        if not User.objects.filter(username=user).exists():
            demo.ensure_demo_users()
        client = Client(raise_request_exception=False)  # a broken page is reported as its 500, not a crash
        client.force_login(User.objects.get(username=user))
        results = []
        for path in PAGES:
            response = client.get(path)
            if response.status_code == 404:
                results.append({"path": path, "status": 404, "note": "not available"})
                continue
            url, depth = path, 1
            while True:
                response, queries, median_ms = self.timed_get(client, url, runs)
                row = {
                    "path": path,
                    "page": depth,
                    "status": response.status_code,
                    "queries": queries,
                    "median_ms": round(median_ms, 1),
                }
                next_url = None
                if response.status_code == 200 and response.get("Content-Type", "").startswith("application/json"):
                    body = response.json()
                    if isinstance(body, dict) and isinstance(body.get("results"), list):
                        row["rows"] = len(body["results"])
                        next_url = body.get("next")
                results.append(row)
                if depth > 1 or not next_url or follow < 1:
                    break
                # Time the page `follow` steps on from the first: a cursor list should cost the same there.
                for _ in range(follow - 1):
                    body = client.get(next_url).json()
                    if not body.get("next"):
                        break
                    next_url, depth = body["next"], depth + 1
                url, depth = next_url, depth + 1
        return results

    # ------------------------------------------------------------------ the apps' own benchmarks

    def run_component(self, dotted: str, kwargs: dict) -> dict:
        module_name, func_name = dotted.rsplit(".", 1)
        try:
            func = getattr(importlib.import_module(module_name), func_name)
        except (ImportError, AttributeError):
            return {"status": "not available", "function": dotted}
        started = time.perf_counter()
        try:
            result = func(**kwargs)
        except Exception as exc:  # noqa: BLE001 - one broken part must not hide the other figures
            return {"status": "error", "function": dotted, "error": f"{type(exc).__name__}: {exc}"}
        return {
            "status": "ok",
            "function": dotted,
            "seconds": round(time.perf_counter() - started, 2),
            "result": _plain(result),
        }

    # ------------------------------------------------------------------ output

    def print_report(self, report: dict) -> None:
        out = self.stdout
        out.write(f"Relay bench on {report['database']}: " + ", ".join(f"{n:,} {k}" for k, n in report["rows"].items()))
        if report["pages"]:
            out.write("")
            out.write(f"{'page':<28} {'#':>3} {'status':>6} {'queries':>7} {'median ms':>9} {'rows':>5}")
            for row in report["pages"]:
                if row.get("note"):
                    out.write(f"{row['path']:<28} {'':>3} {row['status']:>6} {row['note']}")
                    continue
                out.write(
                    f"{row['path']:<28} {row['page']:>3} {row['status']:>6} {row['queries']:>7} "
                    f"{row['median_ms']:>9.1f} {row.get('rows', ''):>5}"
                )
        for name, result in report["components"].items():
            out.write("")
            status = result["status"]
            if status == "ok":
                out.write(f"{name}: {result['seconds']}s")
                payload = result["result"]
                if isinstance(payload, dict):
                    for key, value in payload.items():
                        out.write(f"  {key}: {json.dumps(value, ensure_ascii=False)}")
                elif payload is not None:
                    out.write(f"  {json.dumps(payload, ensure_ascii=False)}")
            elif status == "error":
                out.write(self.style.ERROR(f"{name}: {result['error']}"))
            else:
                out.write(f"{name}: not available ({result['function']})")
