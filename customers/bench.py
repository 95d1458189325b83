"""Import benchmark: `bench_import(rows)` generates a CSV of N customers and imports it for real.

The file is written to a temporary file and streamed; a tenth of the rows match customers that exist
before the timed run (seeded by an untimed import), and one row in a hundred is bad, so normalization,
identity matching and the per-row error report are all on the timed path.
"""

import csv
import os
import resource
import tempfile
import time
import tracemalloc

from django.core.files import File

from customers import imports
from customers.models import Customer, ImportJob


def _write_csv(path: str, rows: int, *, offset: int = 0, bad_every: int = 100) -> None:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["name", "company", "city", "phone", "email", "wechat"])
        for i in range(offset, offset + rows):
            phone = f"+86 139-{i // 10000 % 10000:04d}-{i % 10000:04d}"
            email = f"Customer.{i}@Example.com "
            if bad_every and i % bad_every == 99:
                phone = "12345"  # invalid: lands in the error report
            writer.writerow([f"客户 {i}", f"Company {i % 5000}", "上海" if i % 2 else "Beijing", phone, email, ""])


def _run(path: str, name: str) -> ImportJob:
    with open(path, "rb") as handle:
        job = imports.start_import(by=None, kind="customers", upload=File(handle, name=name), dry_run=False)
    imports.run_job(job.pk)
    job.refresh_from_db()
    return job


def bench_import(rows: int) -> dict:
    """Import `rows` generated customers; returns rows/s, peak memory and the job's counts."""
    seed = max(rows // 10, 1)
    with tempfile.TemporaryDirectory() as tmp:
        seed_path, path = os.path.join(tmp, "seed.csv"), os.path.join(tmp, "bench.csv")
        _write_csv(seed_path, seed, bad_every=0)  # these rows will match by phone and email
        _write_csv(path, rows)
        seeded = _run(seed_path, "seed.csv")
        customers_before = Customer.objects.count()

        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        job = _run(path, "bench.csv")
        seconds = time.perf_counter() - started
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

        # A second, traced pass over the dry run measures Python allocations without slowing the timed run.
        tracemalloc.start()
        with open(path, "rb") as handle:
            dry = imports.start_import(by=None, kind="customers", upload=File(handle, name="dry.csv"), dry_run=True)
        imports.run_job(dry.pk)
        _current, traced_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        dry.refresh_from_db()
        for finished in (seeded, job, dry):
            finished.file.delete(save=False)

    return {
        "rows": rows,
        "seconds": round(seconds, 3),
        "rows_per_second": round(rows / seconds, 1) if seconds else None,
        "peak_rss_mb": round(rss_after / 1024, 1),  # Linux reports KiB; whole-process peak, not a delta
        "rss_growth_mb": round((rss_after - rss_before) / 1024, 1),
        "dry_run_traced_peak_mb": round(traced_peak / 2**20, 1),
        "status": job.status,
        "created": job.created_count,
        "updated": job.updated_count,
        "failed": job.failed_count,
        "customers_before": customers_before,
        "customers_after": Customer.objects.count(),
        "dry_run_created_after_import": dry.created_count,
    }
