"""`manage.py bench_queue`: how long urgent work waits behind a maintenance backlog, with a real worker.

Queues `--backlog` maintenance messages (the stalled-job sweep, a few milliseconds each), starts a worker the
way `make run` does, then every half second publishes a heartbeat (interactive) and measures the time from
publish to the task's write. Prints the median, p95 and worst wait. Uses whatever database and broker the
environment gives (the embedded SQLite + filesystem default, or DATABASE_URL / CELERY_BROKER_URL).

    python manage.py bench_queue --backlog 5000 --probes 20
"""

import statistics
import subprocess  # nosec B404
import sys
import time

from django.core.management.base import BaseCommand
from django.utils import timezone

from config.celery import app
from config.models import Heartbeat

PROBE_PREFIX = "bench-queue-probe-"


class Command(BaseCommand):
    help = "Measure the wait of urgent work behind a maintenance backlog (median, p95, worst)."

    def add_arguments(self, parser):
        parser.add_argument("--backlog", type=int, default=5000)
        parser.add_argument("--probes", type=int, default=20)
        parser.add_argument("--concurrency", type=int, default=2)
        parser.add_argument("--queues", default="interactive,maintenance", help="the worker's -Q ('' for none)")

    def handle(self, *args, backlog, probes, concurrency, queues, **options):
        app.loader.import_default_modules()
        app.conf.task_always_eager = False
        Heartbeat.objects.filter(name__startswith=PROBE_PREFIX).delete()
        sweep, heartbeat = app.tasks["config.tasks.sweep_stalled_jobs"], app.tasks["config.tasks.heartbeat"]
        started = time.monotonic()
        for _ in range(backlog):
            sweep.apply_async()
        self.stdout.write(f"queued {backlog} maintenance messages in {time.monotonic() - started:.1f} s")

        command = [sys.executable, "-m", "celery", "-A", "config", "worker", f"--concurrency={concurrency}"]
        command += ["-Q", queues] if queues else []
        worker = subprocess.Popen(  # nosec B603
            command + ["--loglevel=WARNING"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        waits = []
        try:
            for i in range(probes):
                name = f"{PROBE_PREFIX}{i}"
                sent = timezone.now()
                heartbeat.apply_async((name,))
                waits.append(self._wait_for(name, sent))
                time.sleep(0.5)
        finally:
            worker.terminate()
            worker.wait(timeout=60)
        waits.sort()
        p95 = waits[min(len(waits) - 1, round(0.95 * (len(waits) - 1)))]
        self.stdout.write(
            f"urgent wait over {probes} probes: median {statistics.median(waits):.2f} s, "
            f"p95 {p95:.2f} s, worst {waits[-1]:.2f} s"
        )

    def _wait_for(self, name: str, sent, timeout: float = 1800) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            beat = Heartbeat.objects.filter(name=name).values_list("last_beat_at", flat=True).first()
            if beat is not None:
                return (beat - sent).total_seconds()
            time.sleep(0.05)
        return float("inf")
