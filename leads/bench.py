"""`bench_board()`: queries and time of the pipeline board and the lead list on the data in the database.

Called by `manage.py bench` (config/management/commands/bench.py) with DEBUG off. Pages are fetched with
Django's test Client as a sales manager, so the figures are the view's work (query count and median ms).
"""

import statistics
import time

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Count
from django.test import Client
from django.test.utils import CaptureQueriesContext

from config import roles
from leads import selectors
from leads.models import Lead
from leads.stages import Stage

RUNS = 5


def _viewer():
    User = get_user_model()
    user = roles.members(roles.SALES, managers_only=True).order_by("pk").first()
    return user or User.objects.filter(is_superuser=True).order_by("pk").first()


def _measure(fn, runs: int = RUNS) -> dict:
    fn()  # warm-up
    times, queries, status = [], 0, None
    for _ in range(runs):
        with CaptureQueriesContext(connection) as ctx:
            started = time.perf_counter()
            status = fn()
            times.append((time.perf_counter() - started) * 1000)
        queries = max(queries, len(ctx.captured_queries))
    return {"status": status, "queries": queries, "median_ms": round(statistics.median(times), 1)}


def bench_board(runs: int = RUNS) -> dict:
    user = _viewer()
    result: dict = {"leads": Lead.objects.count()}
    # The selector alone, without a request around it.
    result["board_selector"] = _measure(lambda: len(selectors.board(selectors.lead_rows())), runs)
    if user is None:
        result["pages"] = "no sales manager or admin user to fetch the pages as"
        return result
    client = Client()
    client.force_login(user)
    biggest = list(Lead.objects.order_by().values_list("stage").annotate(n=Count("pk")))
    top_stage = max(biggest, key=lambda row: row[1])[0] if biggest else Stage.WON
    first = selectors.board(selectors.lead_rows())
    cursor = next((c.next_cursor for c in first if c.stage == top_stage), "")
    pages = {
        "board": "/leads/board/",
        "board_filtered": f"/leads/board/?channel=&high_intent=true&stage={Stage.NEGOTIATION}",
        "board_load_more": f"/leads/board/{top_stage}/more/?cursor={cursor}",
        "lead_list": "/leads/",
        "lead_list_last_page": "/leads/?page=last",
        "lead_list_search": "/leads/?q=zhang",
        "my_queue": "/leads/queue/",
        "api_leads": "/api/v1/leads/",
    }
    for name, url in pages.items():
        result[name] = _measure(lambda url=url: client.get(url).status_code, runs)
    lead = Lead.objects.order_by("-pk").first()
    if lead is not None:
        result["lead_detail"] = _measure(lambda: client.get(f"/leads/{lead.pk}/").status_code, runs)
    return result
