"""`manage.py marketing_bench`: how long N sign-up events take through a one-step journey (an email), from the event
to the message (demo/bench/journeys.py says what is measured).

    manage.py marketing_bench --events 10000 --mode inline                  # SQLite, no worker: tasks in process
    CELERY_BROKER_URL=redis://127.0.0.1:6379/13 DATABASE_URL=postgres://… \\
        manage.py marketing_bench --events 10000 --mode worker --workers 2 --concurrency 4 --producers 4

It writes to the configured database (a content item, a journey, N customers and what the run makes) and deletes
it all afterwards unless --keep. Prints the figures as JSON.
"""

import json

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError

from config import roles
from demo.bench import journeys as bench

BENCH_USER = "journey-bench"


def _bench_user():
    """A marketing manager the run acts as (events, journey): the services check roles as for anyone."""
    user, _created = get_user_model().objects.get_or_create(username=BENCH_USER, defaults={"is_active": True})
    user.groups.add(*[Group.objects.get_or_create(name=name)[0] for name in (roles.MARKETING, roles.MANAGER)])
    return get_user_model().objects.get(pk=user.pk)


class Command(BaseCommand):
    help = "Time N sign-up events through a one-step send journey, inline or with real Celery workers."

    def add_arguments(self, parser):
        parser.add_argument("--events", type=int, default=10_000)
        parser.add_argument("--mode", choices=["inline", "worker"], default="inline")
        parser.add_argument("--workers", type=int, default=1, help="worker processes (--mode worker)")
        parser.add_argument("--concurrency", type=int, default=2, help="pool size of each worker")
        parser.add_argument("--producers", type=int, default=1, help="threads recording the events")
        parser.add_argument("--timeout", type=float, default=1800, help="seconds to wait for the engine")
        parser.add_argument("--keep", action="store_true", help="keep the run's rows")

    def handle(self, *args, events, mode, workers, concurrency, producers, timeout, keep, **options):
        if events < 1 or workers < 1 or concurrency < 1 or producers < 1:
            raise CommandError("--events, --workers, --concurrency and --producers are at least 1.")
        figures = bench.measure(
            events=events,
            mode=mode,
            workers=workers,
            concurrency=concurrency,
            producers=producers,
            timeout=timeout,
            by=_bench_user(),
            keep=keep,
        )
        self.stdout.write(json.dumps(figures, indent=2))
