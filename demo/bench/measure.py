"""In-process timing: a measured URL and its floor, alternated, through Django's test Client.

The Client runs the full middleware stack (sessions, auth, locale, security, the API's own), with DEBUG off and
plain static storage (settings below), as a signed-in demo user; the figures are the view's work without a
network or a server in between. Query counts come from an untimed request (CaptureQueriesContext), so the
timed ones carry no capture overhead.
"""

import statistics
import time
from dataclasses import dataclass

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

LIGHT_RUNS = 40  # per item when a request takes under HEAVY_MS
HEAVY_RUNS = 20
HEAVY_MS = 100.0
MIN_RUNS = 5
ITEM_BUDGET_SECONDS = 15.0  # an item's timed pairs stop here (after MIN_RUNS), so the run fits its 20 minutes


def percentiles(times: list[float]) -> dict:
    """median, p95 and p99 in ms (statistics.quantiles, inclusive: interpolated between the samples)."""
    if len(times) == 1:
        return {"median_ms": round(times[0], 2), "p95_ms": round(times[0], 2), "p99_ms": round(times[0], 2)}
    cuts = statistics.quantiles(times, n=100, method="inclusive")
    return {
        "median_ms": round(statistics.median(times), 2),
        "p95_ms": round(cuts[94], 2),
        "p99_ms": round(cuts[98], 2),
        "min_ms": round(min(times), 2),
        "max_ms": round(max(times), 2),
    }


@dataclass
class Fetched:
    status: int
    ms: float
    queries: int | None
    response: object


def fetch(client: Client, url: str, *, count_queries: bool = False) -> Fetched:
    if count_queries:
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get(url)
            ms = (time.perf_counter() - started) * 1000
        return Fetched(response.status_code, ms, len(captured.captured_queries), response)
    started = time.perf_counter()
    response = client.get(url)
    return Fetched(response.status_code, (time.perf_counter() - started) * 1000, None, response)


def compare(client: Client, url: str, floor_url: str, *, runs: int | None = None) -> dict:
    """Time `url` and `floor_url` alternately (the order swaps every pair, so drift and caches cancel out).

    Two warm-ups each; the second also counts queries. `runs` pairs, else LIGHT_RUNS or HEAVY_RUNS by the
    warm-up's time, cut short by ITEM_BUDGET_SECONDS (never under MIN_RUNS). Returns the figures of both and
    `response`, the measured URL's last response (for the caller's checks)."""
    fetch(client, url)
    fetch(client, floor_url)
    probe = fetch(client, url, count_queries=True)
    floor_probe = fetch(client, floor_url, count_queries=True)
    if runs is None:
        runs = HEAVY_RUNS if probe.ms >= HEAVY_MS else LIGHT_RUNS
    measured: list[float] = []
    floor: list[float] = []
    statuses, floor_statuses = {probe.status}, {floor_probe.status}
    last = probe
    started = time.monotonic()
    for i in range(runs):
        if i >= MIN_RUNS and time.monotonic() - started > ITEM_BUDGET_SECONDS:
            break
        pair = [(url, measured, statuses), (floor_url, floor, floor_statuses)]
        if i % 2:
            pair.reverse()
        for target, times, seen in pair:
            got = fetch(client, target)
            times.append(got.ms)
            seen.add(got.status)
            if target == url:
                last = got
    return {
        "runs": len(measured),
        "status": sorted(statuses),
        "queries": probe.queries,
        **percentiles(measured),
        "floor": {"status": sorted(floor_statuses), "queries": floor_probe.queries, **percentiles(floor)},
        "response": last.response,
        "floor_response": floor_probe.response,
    }
