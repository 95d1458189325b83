"""The CSV import benchmark: 100k customer rows, 89 % new, 10 % matching customers, 1 % bad.

Semantics kept from customers' old bench_import: an untimed import of `rows // 10` rows first (seeded
customers), then the timed import of `rows` rows whose first tenth are those same people (they match by phone
and email), one row in a hundred with an invalid phone. Each import runs in a process of its own
(`manage.py bench --import-child FILE`, as a worker would run the job), so the figure is the import's own:
`peak_rss_mb` is that process's peak resident memory (VmHWM, Django and the apps loaded included) and
`rss_growth_mb` what the import added to the peak before it started. Rows/s cover start_import (store, sniff,
queue) and run_job (the Celery task body), in that process.

The rows are numbered from a random offset, so a second run on the same database imports new people again.
"""

import json
import os
import random
import resource
import subprocess  # nosec B404 - the import runs in a child process of this command
import sys
import tempfile
import time
from pathlib import Path

from django.conf import settings
from django.core.files import File

from customers import imports
from customers.bench import write_csv
from customers.models import Customer, ImportJob

ROWS_TARGET = 20_000  # rows per second, at least
MEMORY_TARGET_MB = 300  # peak resident memory of the import's process, at most


def _max_rss_mb() -> float:
    """This process's peak resident memory: VmHWM, the high-water mark of its own address space. Not ru_maxrss,
    which Linux carries over from the parent through fork and exec (a child of a big process starts "big")."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux: the best there is


def run_child(path: str) -> dict:
    """In the child process: import `path` for real (as the system), and report time and memory."""
    baseline = _max_rss_mb()
    started = time.perf_counter()
    with open(path, "rb") as handle:
        job = imports.start_import(by=None, kind="customers", upload=File(handle, name=Path(path).name), dry_run=False)
    imports.run_job(job.pk)
    seconds = time.perf_counter() - started
    peak = _max_rss_mb()
    job = ImportJob.objects.get(pk=job.pk)
    job.file.delete(save=False)
    return {
        "seconds": round(seconds, 3),
        "baseline_rss_mb": round(baseline, 1),
        "peak_rss_mb": round(peak, 1),
        "status": job.status,
        "created": job.created_count,
        "updated": job.updated_count,
        "failed": job.failed_count,
    }


def _child(path: str, env: dict) -> dict:
    command = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "bench", "--import-child", path]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1800, check=False)  # nosec B603
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"the import process failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return json.loads(lines[-1])


def bench_import(rows: int, *, database_url: str) -> dict:
    seed_rows = max(rows // 10, 1)
    offset = random.SystemRandom().randrange(1, 400) * 250_000  # a fresh range of people on every run
    with tempfile.TemporaryDirectory(prefix="relay-bench-import-") as tmp:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": database_url,
            "RELAY_VAR_DIR": tmp,  # the uploaded file and the embedded broker's folders
            "CELERY_BROKER_URL": "filesystem://",  # the job is run here; its queued message stays in tmp
            "RELAY_BROKER_DIR": tmp,
            "CELERY_TASK_ALWAYS_EAGER": "0",
        }
        seed_path, path = os.path.join(tmp, "seed.csv"), os.path.join(tmp, "customers.csv")
        write_csv(seed_path, seed_rows, offset=offset, bad_every=0)  # these people will match
        write_csv(path, rows, offset=offset)
        seeded = _child(seed_path, env)
        customers_before = Customer.objects.count()
        result = _child(path, env)
    seconds = result["seconds"]
    return {
        "rows": rows,
        "seeded_rows": seed_rows,
        "seed_created": seeded["created"],
        **result,
        "rows_per_second": round(rows / seconds, 1) if seconds else None,
        "rss_growth_mb": round(result["peak_rss_mb"] - result["baseline_rss_mb"], 1),
        "new_share": round(result["created"] / rows, 3) if rows else None,
        "customers_before": customers_before,
        "customers_after": Customer.objects.count(),
        "memory_measure": "peak RSS (VmHWM) of the process that ran the import, Django included",
        "targets": {"rows_per_second": ROWS_TARGET, "peak_rss_mb": MEMORY_TARGET_MB},
        "met": {
            "rows_per_second": bool(seconds) and rows / seconds >= ROWS_TARGET,
            "peak_rss_mb": result["peak_rss_mb"] <= MEMORY_TARGET_MB,
        },
    }
