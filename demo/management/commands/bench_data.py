"""`manage.py bench_data`: the large benchmark data set, loaded with PostgreSQL COPY.

At `--scale 1`: 100,000 customers with identities, 300,000 leads with their stage history (about
1.5 million changes), 200,000 orders, 50,000 NPS answers, 20,000 complaints, two years of channel
spend and this quarter's OKRs. Rows come from the same seeded generator as `seed_demo`
(demo/data.py) and are streamed chunk by chunk, so memory stays bounded whatever the scale.
"""

import time

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone

from customers.models import Campaign, Channel, ChannelSpend, Customer
from customers.services import recompute_customer_segments
from demo import data as demo
from demo.bench import touchpoints as bench_touchpoints
from demo.management.commands.seed_demo import WRITE_ORDER, explicit_timestamps, wipe_demo_tables, write_rows
from marketing.models import Touchpoint
from okr import metrics as okr_metrics
from okr.models import CheckIn, KeyResult, MetricSnapshot, Objective

FULL = {"customers": 100_000, "leads": 300_000, "orders": 200_000, "nps": 50_000, "complaints": 20_000}
SQLITE_MAX_SCALE = 0.02


class CopyTable:
    """COPY rows (dicts keyed by attname) into one model's table; columns the generator leaves out get their
    model default (the load's time for auto_now stamps), so a field another app adds does not break the load."""

    def __init__(self, model):
        self.model = model
        fields = model._meta.concrete_fields
        self.names = [f.attname for f in fields]
        self.defaults = {}
        loaded_at = timezone.now()
        for f in fields:
            default = (
                loaded_at if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False) else f.get_default()
            )
            self.defaults[f.attname] = None if default is None else f.get_db_prep_save(default, connection)
        columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
        self.sql = f"COPY {connection.ops.quote_name(model._meta.db_table)} ({columns}) FROM STDIN"

    def copy(self, rows: list[dict]) -> int:
        if not rows:
            return 0
        names, defaults = self.names, self.defaults
        with connection.cursor() as cursor, cursor.connection.cursor() as raw, raw.copy(self.sql) as copy:
            for row in rows:
                copy.write_row([row[n] if n in row else defaults[n] for n in names])
        return len(rows)


class Command(BaseCommand):
    help = (
        "Load the benchmark data set (100k customers, 300k leads, ~1.5M stage changes, 200k orders, 50k NPS "
        "answers at --scale 1) into an EMPTY PostgreSQL database with COPY, then VACUUM ANALYZE."
    )

    def add_arguments(self, parser):
        parser.add_argument("--scale", type=float, default=1.0, help="Fraction of the full set (e.g. 0.1).")
        parser.add_argument("--seed", type=int, default=demo.DEFAULT_SEED, help="Random seed.")
        parser.add_argument(
            "--reset",
            action="store_true",
            help="First empty the customer, lead, feedback and OKR tables (TRUNCATE ... CASCADE on PostgreSQL).",
        )

    def handle(self, *args, scale, seed, reset, **options):

        postgres = connection.vendor == "postgresql"
        if scale <= 0:
            raise CommandError("--scale must be positive.")
        if not postgres and scale > SQLITE_MAX_SCALE:
            raise CommandError(
                f"bench_data loads millions of rows with PostgreSQL COPY; set DATABASE_URL to a PostgreSQL "
                f"database, or use --scale {SQLITE_MAX_SCALE} or less on {connection.vendor} "
                "(for demo data use seed_demo)."
            )
        started = time.monotonic()
        users = demo.ensure_demo_users()
        if reset:
            self.empty_tables(postgres)
        if Customer.objects.exists():
            raise CommandError("The database has customers already; run with --reset to replace them.")

        now = demo.demo_now()
        staff = demo.Staff.from_users(users)
        channels = demo.ensure_channels()
        campaigns = demo.ensure_campaigns(channels, now)
        tags = demo.ensure_tags()
        # seed_demo's spend goes with 5,000 leads; grow it with the lead count so ROI and CAC stay plausible.
        demo.ensure_channel_spend(channels, now, months=24, factor=max(1.0, FULL["leads"] * scale / 5000))
        sizes = demo.Sizes(
            **{name: max(1, round(n * scale)) for name, n in FULL.items()}, activity_rate=0.3, chunk=20_000
        )
        models = demo.Generator.model_map()
        gen = demo.Generator(
            seed=seed,
            now=now,
            sizes=sizes,
            staff=staff,
            channels=channels,
            campaigns=campaigns,
            tags=tags,
            ids=demo.Ids(*models.values()),
        )
        counts = dict.fromkeys(WRITE_ORDER, 0)
        phases = [
            ("customers", gen.customer_chunks),
            ("leads", gen.lead_chunks),
            ("orders", gen.order_chunks),
            ("complaints", gen.complaint_chunks),
            ("nps", gen.nps_chunks),
        ]
        tables = {kind: CopyTable(model) for kind, model in models.items()} if postgres else None
        with explicit_timestamps(models.values()) as auto_fields:
            for phase, chunks in phases:
                phase_started = time.monotonic()
                for rows in chunks():
                    # One transaction per chunk: deferred foreign-key checks stay bounded, progress is kept.
                    with transaction.atomic():
                        if postgres:
                            with connection.cursor() as cursor:
                                cursor.execute("SET LOCAL synchronous_commit = off")
                        for kind in WRITE_ORDER:
                            if rows.get(kind):
                                if postgres:
                                    counts[kind] += tables[kind].copy(rows[kind])
                                else:
                                    counts[kind] += write_rows(models[kind], rows[kind], auto_fields, now)
                self.stdout.write(f"  {phase:<11} {time.monotonic() - phase_started:6.1f}s")
        phase_started = time.monotonic()
        counts["touchpoint"] = self.load_touchpoints(seed, now, scale, channels, campaigns, postgres)
        self.stdout.write(f"  {'touchpoints':<11} {time.monotonic() - phase_started:6.1f}s")
        demo.reset_sequences([*models.values(), Touchpoint])
        demo.ensure_okrs(staff, now)

        segments_started = time.monotonic()
        if self.recompute_segments():
            self.stdout.write(f"  {'segments':<11} {time.monotonic() - segments_started:6.1f}s")
        if postgres:
            analyze_started = time.monotonic()
            self.analyze()
            self.stdout.write(f"  {'analyze':<11} {time.monotonic() - analyze_started:6.1f}s")
        okr_metrics.forget_closed_days()  # history written with COPY, past the signals that would drop it
        summary = ", ".join(f"{n:,} {kind}" for kind, n in counts.items() if n)
        self.stdout.write(self.style.SUCCESS(f"Loaded in {time.monotonic() - started:.1f}s: {summary}."))

    def empty_tables(self, postgres: bool) -> None:
        if not postgres:
            with transaction.atomic():
                wipe_demo_tables()
            return

        models = [*demo.Generator.model_map().values(), ChannelSpend, Campaign, CheckIn, MetricSnapshot, KeyResult]
        models.append(Objective)
        tables = ", ".join(connection.ops.quote_name(m._meta.db_table) for m in models)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
        self.stdout.write("Emptied the customer, lead, feedback and OKR tables.")

    def analyze(self) -> None:

        models = [*demo.Generator.model_map().values(), Channel, Campaign, ChannelSpend, Touchpoint]
        # VACUUM too: a freshly copied table has no visibility map, so no index-only scans until autovacuum
        # passes (a database in service had that pass long ago). VACUUM cannot run inside a transaction.
        command = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
        with connection.cursor() as cursor:
            for model in models:
                cursor.execute(f"{command} {connection.ops.quote_name(model._meta.db_table)}")

    def load_touchpoints(self, seed, now, scale, channels, campaigns, postgres) -> int:
        """FULL_TOUCHPOINTS × scale touchpoints over the loaded customers (demo/bench/touchpoints.py)."""
        customers = list(Customer.objects.filter(merged_into__isnull=True).order_by("pk").values_list("pk", flat=True))
        chunks = bench_touchpoints.touchpoint_chunks(
            seed=seed,
            now=now,
            total=round(bench_touchpoints.FULL_TOUCHPOINTS * scale),
            customer_ids=customers,
            channels=channels,
            campaigns=campaigns,
        )
        table = CopyTable(Touchpoint) if postgres else None
        written = 0
        for rows in chunks:
            with transaction.atomic():
                if postgres:
                    with connection.cursor() as cursor:
                        cursor.execute("SET LOCAL synchronous_commit = off")
                    written += table.copy(rows)
                else:
                    written += write_rows(Touchpoint, rows, [], now)
        if postgres:
            # In service touchpoints are written about when they happen, so a period's rows sit together in the
            # table; the generator wrote them customer by customer. Put them in time order as a running database
            # has them (a filter by kind or campaign reads the rows themselves, not only the index).
            with connection.cursor() as cursor:
                cursor.execute(
                    f"CLUSTER {connection.ops.quote_name(Touchpoint._meta.db_table)} USING marketing_touch_at_idx"
                )
        return written

    def recompute_segments(self) -> bool:
        recompute_customer_segments(customer_ids=None)
        return True
