"""`manage.py bench` (what `make bench` runs): every item of issue 14 against its floor, in one run.

In-process (Django's test Client, full middleware, DEBUG off, a demo sales manager signed in), each item beside
its floor (demo/bench/floors.py), alternated: API lists and list pages first / 50 deep / last, the heaviest lead
page and customer 360, every metric through the API, the OKR and pipeline boards, the affinity refresh at 200k
orders with 600k lines (demo/bench/affinity.py; the orders get their lines first). Then the CSV import in a
process of its own, then (last, it writes) a mixed load on gunicorn with wrk beside the same load on floors.
Prints a Markdown table and which targets were met, and writes bench/results/latest.json and latest.md.

Quick runs: `--only api,pages --runs 5 --deep 5`, `--load-seconds 5`, `--import-rows 10000`.
"""

import argparse
import json
import os
import platform
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import django
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test import Client
from django.test.utils import override_settings

from customers.models import Customer, Order
from demo import data as demo
from demo.bench import affinity as bench_affinity
from demo.bench import importer, items, load, report
from feedback.models import Complaint, NpsResponse
from leads.models import Activity, Lead, LeadStageChange
from marketing.models import Touchpoint

PARTS = ("api", "pages", "details", "metrics", "boards", "overlap", "affinity", "import", "load")
OPTIONS_RECORDED = ("only", "runs", "deep", "user", "load_user", "import_rows", "load_seconds", "load_warmup")
OPTIONS_RECORDED += ("load_connections", "load_threads", "port")


def database_url() -> str:
    """The URL of the database this command uses (the test database under pytest), for the child processes."""
    db = connection.settings_dict
    user = quote(db.get("USER") or "", safe="")
    password = f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else ""
    credentials = f"{user}{password}@" if user or password else ""
    return f"postgres://{credentials}{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


class Command(BaseCommand):
    help = (
        "Benchmark on PostgreSQL: each page and API list against its .values() floor (median, p95, p99, queries, "
        "ratio), metrics, boards, a 100k-row import and a mixed load on gunicorn with wrk; writes "
        "bench/results/latest.json and latest.md and names the targets met and missed."
    )

    def add_arguments(self, parser):
        parser.add_argument("--only", default=",".join(PARTS), help=f"Comma-separated parts: {', '.join(PARTS)}.")
        parser.add_argument(
            "--runs", type=int, default=None, help="Timed pairs per item (default: 40, or 20 for items over 100 ms)."
        )
        parser.add_argument("--deep", type=int, default=50, help="`next` links followed for the deep pages.")
        parser.add_argument("--user", default="sales_manager", help="Demo user the pages are fetched as.")
        parser.add_argument(
            "--load-user", default="marketing_manager", help="Demo user of the load's token (creates leads)."
        )
        parser.add_argument("--import-rows", type=int, default=100_000, help="Rows of the timed CSV import.")
        parser.add_argument("--load-seconds", type=float, default=60.0, help="Seconds of each load run.")
        parser.add_argument("--load-warmup", type=float, default=5.0, help="Untimed seconds of load before each run.")
        parser.add_argument("--load-connections", type=int, default=12, help="wrk connections (3 workers × 4).")
        parser.add_argument("--load-threads", type=int, default=2, help="wrk threads.")
        parser.add_argument("--port", type=int, default=8765, help="Loopback port of the benchmark's gunicorn.")
        parser.add_argument(
            "--output-dir", default=None, help="Where latest.json and latest.md go (default: bench/results)."
        )
        parser.add_argument("--import-child", default=None, help=argparse.SUPPRESS)

    def handle(self, *args, **options):
        if options["import_child"]:  # the import's own process (demo/bench/importer.py)
            self.stdout.write(json.dumps(importer.run_child(options["import_child"])))
            return
        if connection.vendor != "postgresql":
            raise CommandError("manage.py bench measures PostgreSQL: set DATABASE_URL=postgres://...")
        parts = {p.strip() for p in options["only"].split(",") if p.strip()}
        unknown = parts - set(PARTS)
        if unknown:
            raise CommandError(f"Unknown parts: {', '.join(sorted(unknown))} (choose from {', '.join(PARTS)}).")
        if options["runs"] is not None and options["runs"] < 1:
            raise CommandError("--runs must be at least 1.")
        warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)
        started = time.monotonic()
        users = demo.ensure_demo_users()
        lines = bench_affinity.ensure_lines()  # every part measures the orders with their lines
        if lines["lines_written"]:
            self.stderr.write(f"bench: {lines['lines_written']:,} order lines written in {lines['seconds']} s")
        for name in (options["user"], options["load_user"]):
            if name not in users:
                raise CommandError(f"No demo user {name!r}.")
        result = {
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "versions": self.versions(),
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
            "rows": self.table_sizes(),
            "user": options["user"],
            "options": {k: options[k] for k in OPTIONS_RECORDED},
            "items": [],
            "seconds": {},
        }
        with override_settings(
            ROOT_URLCONF="demo.bench.urls",
            DEBUG=False,
            SECURE_SSL_REDIRECT=False,
            ALLOWED_HOSTS=["testserver", *settings.ALLOWED_HOSTS],
            STORAGES={
                **settings.STORAGES,
                "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
            },
            REST_FRAMEWORK={
                **settings.REST_FRAMEWORK,  # one user makes every request: no throttle may answer 429
                "DEFAULT_THROTTLE_RATES": dict.fromkeys(("anon", "user", "token"), load.UNTHROTTLED),
            },
        ):
            client = Client(raise_request_exception=False)  # a broken page is reported as its 500
            client.force_login(users[options["user"]])
            context = items.Context(client=client, deep=options["deep"], runs=options["runs"])
            steps = [
                ("api", lambda: [i for name in items.API_LISTS for i in items.api_list_items(context, name)]),
                ("pages", lambda: [i for page in items.LIST_PAGES for i in items.list_page_items(context, page)]),
                ("details", lambda: items.detail_items(context)),
                ("metrics", lambda: items.metric_items(context)),
                ("boards", lambda: items.board_items(context)),
                ("overlap", lambda: items.overlap_items(context)),
                ("affinity", lambda: bench_affinity.affinity_items(runs=min(options["runs"] or 3, 3))),
            ]
            for part, step in steps:
                if part in parts:
                    part_started = time.monotonic()
                    self.stderr.write(f"bench: {part}…")
                    result["items"] += step()
                    result["seconds"][part] = round(time.monotonic() - part_started, 1)
        for item in result["items"]:
            item["met"] = report.item_met(item)

        if "import" in parts:
            part_started = time.monotonic()
            self.stderr.write(f"bench: import of {options['import_rows']:,} rows…")
            try:
                result["import"] = importer.bench_import(options["import_rows"], database_url=database_url())
            except RuntimeError as error:
                result["import"] = {"error": str(error)}
            result["seconds"]["import"] = round(time.monotonic() - part_started, 1)
        if "load" in parts:
            part_started = time.monotonic()
            self.stderr.write(f"bench: load, 2 × {options['load_seconds']:.0f} s…")
            try:
                result["load"] = load.bench_load(
                    user=users[options["load_user"]],
                    database_url=database_url(),
                    seconds=options["load_seconds"],
                    connections=options["load_connections"],
                    threads=options["load_threads"],
                    port=options["port"],
                    warmup=options["load_warmup"],
                )
            except load.LoadError as error:
                result["load"] = {"error": str(error)}
            result["seconds"]["load"] = round(time.monotonic() - part_started, 1)
        result["seconds"]["total"] = round(time.monotonic() - started, 1)

        directory = Path(options["output_dir"]) if options["output_dir"] else Path(settings.BASE_DIR) / "bench/results"
        json_path, md_path = report.write(result, directory)
        self.stdout.write(report.markdown(result))
        self.stdout.write(f"Wrote {json_path} and {md_path} in {result['seconds']['total']:.0f} s.")
        failures = [f"{i['label']}: {'; '.join(i['problems'])}" for i in result["items"] if i.get("problems")]
        failures += [
            f"{part}: {result[part]['error']}" for part in ("import", "load") if "error" in result.get(part, {})
        ]
        if failures:
            raise CommandError("Benchmark problems (not timings): " + " | ".join(failures)[:3000])

    def versions(self) -> dict:
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            postgresql = cursor.fetchone()[0]
        return {"django": django.get_version(), "python": platform.python_version(), "postgresql": postgresql}

    def table_sizes(self) -> dict[str, int]:
        models = (Customer, Order, Lead, LeadStageChange, Activity, Complaint, NpsResponse, Touchpoint)
        return {m._meta.model_name: m.objects.count() for m in models}
