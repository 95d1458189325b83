"""`manage.py seed_demo`: a realistic, deterministic demo data set (see demo/data.py)."""

import time
from contextlib import contextmanager

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from config.models import Task, TaskKind
from customers.models import Campaign, ChannelSpend, Customer, CustomerIdentity, Order
from customers.services import recompute_customer_segments
from demo import commerce as demo_commerce
from demo import data as demo
from demo import marketing as demo_marketing
from feedback.models import Complaint, ComplaintStatusChange, NpsInvitation, NpsResponse
from leads.models import Activity, Lead, LeadStageChange
from okr import metrics as okr_metrics
from okr.models import CheckIn, KeyResult, MetricSnapshot, Objective
from okr.selectors import current_quarter
from okr.services import backfill_snapshots

WRITE_ORDER = (
    "customer",
    "identity",
    "order",
    "lead",
    "change",
    "activity",
    "lead_tag",
    "complaint",
    "complaint_change",
    "invitation",
    "nps",
    "follow_up",
)


@contextmanager
def explicit_timestamps(models):
    """Let bulk_create keep the historical created_at/updated_at we give it (auto_now would stamp 'now')."""
    switched = []
    for model in models:
        for f in model._meta.concrete_fields:
            if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
                switched.append((f, f.auto_now, f.auto_now_add))
                f.auto_now = f.auto_now_add = False
    try:
        yield [f for f, _a, _b in switched]
    finally:
        for f, auto_now, auto_now_add in switched:
            f.auto_now, f.auto_now_add = auto_now, auto_now_add


def write_rows(model, rows: list[dict], auto_fields, now) -> int:
    if not rows:
        return 0
    objs = [model(**row) for row in rows]
    # Fields another app adds later with auto_now(_add) and no value from the generator get "now".
    for f in auto_fields:
        if f.model is model:
            for obj in objs:
                if getattr(obj, f.attname) is None:
                    setattr(obj, f.attname, now)
    model.objects.bulk_create(objs, batch_size=1000)
    return len(objs)


def wipe_demo_tables() -> None:
    """Delete every customer, lead, feedback, marketing and OKR row (channels and users stay)."""
    demo_marketing.wipe_marketing()

    for model in (CheckIn, MetricSnapshot, KeyResult, Objective):
        model.objects.all().delete()
    # The tasks about the records below, and the to-dos the demo's managers give (demo.GENERAL_TASKS); other
    # people's tasks, and the review actions (okr.ReviewNote keeps its task), stay.
    managers = [username for username, _first, _last, _department, manager in demo.DEMO_USERS if manager]
    demo_to_dos = Q(kind=TaskKind.GENERAL, content_type__isnull=True, created_by__username__in=managers)
    Task.objects.filter(Q(content_type__isnull=False) | demo_to_dos).delete()
    for model in (NpsResponse, NpsInvitation, ComplaintStatusChange, Complaint):
        model.objects.all().delete()
    for model in (Activity, LeadStageChange, Lead.tags.through, Lead):
        model.objects.all().delete()
    Customer.objects.filter(merged_into__isnull=False).update(merged_into=None)
    for model in (Order, CustomerIdentity, Customer, ChannelSpend, Campaign):
        model.objects.all().delete()


def print_logins(stdout, style) -> None:
    stdout.write(style.MIGRATE_HEADING(f"Demo logins (password: {demo.DEMO_PASSWORD})"))
    for username, first, last, department, manager in demo.DEMO_USERS:
        role = "admin (superuser)" if department is None else department + (" manager" if manager else "")
        name = f"{first} {last}" if first.isascii() else f"{last}{first}"
        stdout.write(f"  {username:<18} {role:<20} {name}")


class Command(BaseCommand):
    help = (
        "Fill the database with deterministic demo data (customers, leads with stage history and deal "
        "values, orders with lines from a product catalogue, loyalty points and tiers, purchase affinity, complaints, "
        "NPS, tasks, channel spend, this quarter's OKRs) and the demo users. Safe to run "
        "twice: when customers exist already only the demo users are ensured."
    )

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=2000, help="Number of customers (default 2000).")
        parser.add_argument("--leads", type=int, default=5000, help="Number of leads (default 5000).")
        parser.add_argument("--seed", type=int, default=demo.DEFAULT_SEED, help="Random seed.")
        parser.add_argument(
            "--reset",
            action="store_true",
            help="First DELETE all customers, leads, feedback and OKR rows, then seed again.",
        )

    def handle(self, *args, customers, leads, seed, reset, **options):
        if customers < 1 or leads < 0:
            raise CommandError("--customers must be at least 1 and --leads at least 0.")

        started = time.monotonic()
        users = demo.ensure_demo_users()
        if reset:
            with transaction.atomic():
                wipe_demo_tables()
            self.stdout.write("Deleted the existing customer, lead, feedback and OKR data.")
        if Customer.objects.exists():
            self.stdout.write(
                self.style.WARNING("Customers exist already: no demo data added (use --reset to start over).")
            )
            print_logins(self.stdout, self.style)
            return

        counts = self.seed(users=users, n_customers=customers, n_leads=leads, seed=seed)
        counts.update(self.seed_commerce(users=users, seed=seed))
        self.recompute_segments()
        counts.update(self.seed_marketing(users=users, seed=seed))
        self.backfill_snapshots()
        elapsed = time.monotonic() - started
        summary = ", ".join(f"{n} {name}" for name, n in counts.items())
        okr_metrics.forget_closed_days()  # history written in bulk, past the signals that would drop it
        self.stdout.write(self.style.SUCCESS(f"Seeded in {elapsed:.1f}s: {summary}."))
        print_logins(self.stdout, self.style)

    @transaction.atomic
    def seed(self, *, users, n_customers: int, n_leads: int, seed: int) -> dict[str, int]:
        now = demo.demo_now()
        staff = demo.Staff.from_users(users)
        channels = demo.ensure_channels()
        campaigns = demo.ensure_campaigns(channels, now)
        tags = demo.ensure_tags()
        spend = demo.ensure_channel_spend(channels, now, months=12)
        sizes = demo.Sizes(
            customers=n_customers,
            leads=n_leads,
            orders=n_customers * 7 // 4,
            nps=n_customers * 3 // 4,
            complaints=max(60, n_customers * 13 // 100),
            chunk=5000,
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
        with explicit_timestamps(models.values()) as auto_fields:
            for chunks in (gen.customer_chunks(), gen.lead_chunks(), gen.order_chunks()):
                for rows in chunks:
                    self._write(rows, counts, auto_fields)
            for chunks in (gen.complaint_chunks(), gen.nps_chunks(), gen.task_chunks()):
                for rows in chunks:
                    self._write(rows, counts, auto_fields)
        demo.reset_sequences(models.values())
        counts["objective"] = demo.ensure_okrs(staff, now)
        counts["spend month"] = spend
        return {name: n for name, n in counts.items() if n}

    def _write(self, rows, counts, auto_fields):
        models = demo.Generator.model_map()
        for kind in WRITE_ORDER:
            if kind in rows:
                counts[kind] += write_rows(models[kind], rows[kind], auto_fields, timezone.now())

    @transaction.atomic
    def seed_commerce(self, *, users, seed: int) -> dict[str, int]:
        """Products, the orders' lines, a few cancellations, points and tiers, affinity (demo/commerce.py), before the
        segments: a cancelled order counts for none."""
        started = time.monotonic()
        counts = demo_commerce.seed_commerce(seed=seed, now=demo.demo_now(), users=users)
        self.stdout.write(f"Built the shop (lines, points, tiers, affinity) in {time.monotonic() - started:.1f}s.")
        return counts

    @transaction.atomic
    def seed_marketing(self, *, users, seed: int) -> dict[str, int]:
        """Content, journeys, customer events and an experiment (demo/marketing.py), once the segments are known:
        the journeys' stage-matched content reads them."""
        return demo_marketing.seed_marketing(seed=seed, now=demo.demo_now(), users=users)

    def backfill_snapshots(self):
        """The board's trend lines: one snapshot per key result for each day of this quarter so far."""

        started = time.monotonic()
        stored = backfill_snapshots(quarter=current_quarter())
        self.stdout.write(f"Stored {stored} metric snapshots in {time.monotonic() - started:.1f}s.")

    def recompute_segments(self):
        started = time.monotonic()
        recompute_customer_segments(customer_ids=None)
        self.stdout.write(f"Recomputed customer segments in {time.monotonic() - started:.1f}s.")
