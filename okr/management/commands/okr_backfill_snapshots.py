from django.core.management.base import BaseCommand, CommandError

from okr import selectors, services


class Command(BaseCommand):
    help = "Store a metric snapshot per key result for every day of a quarter up to today (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("quarter", help="For example 2026Q4.")

    def handle(self, *args, quarter, **options):
        if not selectors.is_quarter(quarter):
            raise CommandError("Write the quarter like 2026Q4.")
        stored = services.backfill_snapshots(quarter=quarter)
        self.stdout.write(f"Stored {stored} snapshots for {quarter}.")
