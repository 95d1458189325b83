"""`bench_metrics()`: how fast the OKR board and every metric answer on the data in the database.

Called by the benchmark harness (`manage.py bench`); also usable from `manage.py shell`. Read-only.
"""

from __future__ import annotations

import statistics
import time

from django.contrib.auth import get_user_model
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext, override_settings

from config import roles
from okr import metrics, selectors, views

PLAIN_STATIC = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}


def _timed(call, runs: int) -> dict:
    """Median and best wall time in ms over `runs` calls (after one warm-up), and the queries of one call."""
    call()  # warm-up: connection, caches, plans
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        timings.append((time.perf_counter() - started) * 1000)
    with CaptureQueriesContext(connection) as queries:
        result = call()
    return {
        "median_ms": round(statistics.median(timings), 1),
        "min_ms": round(min(timings), 1),
        "queries": len(queries.captured_queries),
        "result": result,
    }


def _reader():
    """A staff user to render the board as (any department member, else an admin, else an unsaved admin)."""
    User = get_user_model()
    user = (
        User.objects.filter(is_active=True, groups__name__in=roles.DEPARTMENTS).order_by("pk").first()
        or User.objects.filter(is_active=True, is_superuser=True).order_by("pk").first()
    )
    return user or User(username="bench", is_superuser=True, is_staff=True)


def bench_metrics(runs: int = 5, quarter: str | None = None) -> dict:
    """Time the board page for a quarter (default: the current one) and every metric for that quarter.

    Targets (DESIGN/issue 7): board under 300 ms median, each metric under 200 ms median.
    """
    quarter = quarter or selectors.current_quarter()
    start, end = selectors.quarter_bounds(quarter)
    user = _reader()
    factory = RequestFactory()

    def board():
        request = factory.get("/okr/", {"quarter": quarter})
        request.user = user
        request.session = {}
        response = views.board(request)
        return {"status": response.status_code, "bytes": len(response.content)}

    with override_settings(STORAGES=PLAIN_STATIC, DEBUG=False):
        page = _timed(board, runs)
    out = {
        "quarter": quarter,
        "runs": runs,
        "database": connection.vendor,
        "board": {k: page[k] for k in ("median_ms", "min_ms", "queries")} | page["result"],
        "board_target_ms": 300,
        "metric_target_ms": 200,
        "metrics": {},
    }
    for name in metrics.REGISTRY:
        timed = _timed(lambda name=name: metrics.compute(name, start=start, end=end), runs)
        out["metrics"][name] = {
            "median_ms": timed["median_ms"],
            "min_ms": timed["min_ms"],
            "queries": timed["queries"],
            "value": timed["result"]["value"],
        }
    out["slowest_metric"] = max(out["metrics"], key=lambda n: out["metrics"][n]["median_ms"])
    out["all_within_target"] = out["board"]["median_ms"] < 300 and all(
        m["median_ms"] < 200 for m in out["metrics"].values()
    )
    return out
