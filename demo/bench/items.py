"""What `manage.py bench` measures in-process, each beside its floor (demo/bench/floors.py).

* API lists at `page_size=200`: the first page, the page 50 `next` links deep (the links are followed) and the
  real last page: the cursor is made with the list's own paginator at the position of the 201st row from the
  end, and the answer must have `next: null`, else the item says it is not verified.
* The list pages: first, 50 "next" links deep (followed in the HTML) and last (the page's own keyset cursor at
  the 51st row from the end; the page must show no "next" link).
* The heaviest lead page and the customer 360 with the most leads, orders and complaints.
* Every metric of okr.metrics.REGISTRY through `GET /api/v1/metrics/<name>/` for the current quarter, the OKR
  board and the pipeline board, each beside the trivial JSON floor.
* The channel overlap page and `GET /api/v1/channels/overlap/` for last month (target: under 500 ms at p95), and
  the page for the current quarter (for information), beside the floor that counts the same touchpoints per channel.

Each item is a dict: its figures (measure.compare), `ratio_median` and `ratio_p95` to its floor, its `target`
(None: reported for information) and `checks` (rows, same ids as the floor, columns, next link, depth).
"""

import html
import re
from base64 import b64decode
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

from django.db import connection
from django.test import Client
from django.utils import timezone
from rest_framework.pagination import Cursor

from config.pagination import DEFAULT_PAGE_SIZE
from customers.models import Customer, Order
from demo.bench import floors
from demo.bench.measure import compare
from feedback.models import Complaint
from leads.models import Activity, Lead, LeadStageChange
from marketing.models import Touchpoint
from okr import metrics
from okr import selectors as okr_selectors

API_PAGE = 200
RATIO_TARGET = {"kind": "ratio_p95", "limit": 1.5, "text": "≤ 1.5× floor at p95"}
BOARD_TARGET = {"kind": "median_ms", "limit": 300, "text": "< 300 ms median"}
OVERLAP_TARGET = {"kind": "p95_ms", "limit": 500, "text": "< 500 ms at p95"}
METRIC_TARGET = {"kind": "median_ms", "limit": 200, "text": "< 200 ms median"}
TRIVIAL = "/bench-floor/trivial/"

# API list → target (None: for information).
API_LISTS = {"leads": RATIO_TARGET, "customers": RATIO_TARGET, "orders": None, "complaints": None}


@dataclass
class ListPage:
    name: str  # key of floors.PAGE_FLOORS
    path: str
    row_link: str  # regex of a row's link, the row's id in group 1
    target: dict | None


LIST_PAGES = [
    ListPage("leads", "/leads/", r'href="/leads/(\d+)/"', RATIO_TARGET),
    ListPage("customers", "/customers/", r'href="/customers/(\d+)/"', None),
    ListPage("complaints", "/feedback/complaints/", r'href="/feedback/complaints/(\d+)/"', None),
]
NEXT_LINK = re.compile(r"<a\b[^>]*\brel=\"next\"[^>]*>")
HREF = re.compile(r'\bhref="([^"]*)"')


@dataclass
class Context:
    client: Client
    deep: int = 50
    runs: int | None = None


def _ratio(value: float, floor: float) -> float | None:
    return round(value / floor, 2) if floor else None


def _item(ctx: Context, *, key: str, group: str, label: str, url: str, floor_url: str, target) -> tuple[dict, object]:
    """Measure one URL beside its floor; returns the item and the measured URL's last response."""
    figures = compare(ctx.client, url, floor_url, runs=ctx.runs)
    response, floor_response = figures.pop("response"), figures.pop("floor_response")
    item = {
        "key": key,
        "group": group,
        "label": label,
        "url": url.removeprefix("http://testserver"),
        "floor_url": floor_url,
        **figures,
        "ratio_median": _ratio(figures["median_ms"], figures["floor"]["median_ms"]),
        "ratio_p95": _ratio(figures["p95_ms"], figures["floor"]["p95_ms"]),
        "target": target,
        "checks": {},
    }
    item["floor_body"] = floor_response.json() if floor_response.status_code == 200 else None
    if figures["status"] != [200]:
        _problem(item, f"answered {figures['status']}")
    if figures["floor"]["status"] != [200]:
        _problem(item, f"its floor answered {figures['floor']['status']}")
    return item, response


def _problem(item: dict, text: str) -> None:
    item.setdefault("problems", []).append(text)


# --- API lists -----------------------------------------------------------------------------------------------


def cursor_position(url: str) -> str | None:
    """The position inside a DRF cursor link (`?cursor=` is base64 of `p=<position>&o=<offset>&r=<reverse>`)."""
    encoded = parse_qs(urlsplit(url).query).get("cursor", [""])[0]
    if not encoded:
        return None
    tokens = parse_qs(b64decode(encoded.encode("ascii")).decode("ascii"), keep_blank_values=True)
    if tokens.get("o", ["0"])[0] not in ("", "0") or tokens.get("r", ["0"])[0] not in ("", "0"):
        raise ValueError(f"a cursor with an offset or reversed: {url}")  # never for an order on a unique key
    return tokens.get("p", [None])[0]


def _reversed(ordering) -> list[str]:
    return [name[1:] if name.startswith("-") else f"-{name}" for name in ordering]


def api_last_position(spec: floors.ApiFloor, size: int = API_PAGE) -> str | None:
    """The cursor position whose page is the list's last `size` rows (None: the list fits on its first page)."""
    first = spec.ordering[0].lstrip("-")
    values = spec.base().order_by(*_reversed(spec.ordering)).values_list(first, flat=True)
    found = list(values[size : size + 1])
    return str(found[0]) if found else None


def _check_api(item: dict, response, *, last: bool) -> None:
    checks = item["checks"]
    floor_rows = (item.pop("floor_body") or {}).get("results", [])
    if response.status_code != 200:
        return
    body = response.json()
    results = body.get("results", [])
    checks.update(rows=len(results), floor_rows=len(floor_rows), next=body.get("next"))
    checks["same_rows_as_floor"] = [r.get("id") for r in results] == [r.get("id") for r in floor_rows]
    if results and floor_rows:
        checks["columns_only_in_api"] = sorted(set(results[0]) - set(floor_rows[0]))
        checks["columns_only_in_floor"] = sorted(set(floor_rows[0]) - set(results[0]))
    if not checks["same_rows_as_floor"]:
        _problem(item, "the floor's rows are not the API's")
    if last:
        checks["verified_last"] = body.get("next") is None and bool(results)
        if not checks["verified_last"]:
            _problem(item, "NOT the last page: its `next` is not null")


def api_list_items(ctx: Context, name: str) -> list[dict]:
    spec = floors.API_FLOORS[name]
    target = API_LISTS[name]
    path = f"/api/v1/{name}/?page_size={API_PAGE}"
    floor_path = f"/bench-floor/api/v1/{name}/?page_size={API_PAGE}"
    label = f"GET /api/v1/{name}/?page_size={API_PAGE}"
    group = "API lists"
    out = []

    item, response = _item(
        ctx,
        key=f"api.{name}.first",
        group=group,
        label=f"{label} · first",
        url=path,
        floor_url=floor_path,
        target=target,
    )
    _check_api(item, response, last=False)
    out.append(item)

    url, depth = path, 0
    body = response.json() if response.status_code == 200 else {}
    while depth < ctx.deep and body.get("next"):
        url = body["next"]
        answer = ctx.client.get(url)
        body = answer.json() if answer.status_code == 200 else {}
        depth += 1
    position = cursor_position(url)
    floor_url = f"{floor_path}&{urlencode({'position': position})}" if position is not None else floor_path
    item, response = _item(
        ctx,
        key=f"api.{name}.deep",
        group=group,
        label=f"{label} · {depth} next deep",
        url=url,
        floor_url=floor_url,
        target=target,
    )
    _check_api(item, response, last=False)
    item["checks"]["depth"] = depth
    if depth < ctx.deep:
        item["checks"]["note"] = f"the list ends after {depth} next links"
    out.append(item)

    position = api_last_position(spec)
    if position is None:
        url, floor_url = path, floor_path
    else:
        paginator = spec.viewset.pagination_class()
        paginator.base_url = f"http://testserver{path}"
        url = paginator.encode_cursor(Cursor(offset=0, reverse=False, position=position))
        floor_url = f"{floor_path}&{urlencode({'position': position})}"
    item, response = _item(
        ctx, key=f"api.{name}.last", group=group, label=f"{label} · last", url=url, floor_url=floor_url, target=target
    )
    _check_api(item, response, last=True)
    item["checks"]["position"] = position
    out.append(item)
    return out


# --- list pages ----------------------------------------------------------------------------------------------


def next_link(content: str) -> str:
    """The page's keyset "next" link (templates/_keyset_paging.html), unescaped; "" when there is none."""
    tag = NEXT_LINK.search(content)
    href = HREF.search(tag.group(0)) if tag else None
    return html.unescape(href.group(1)) if href else ""


def _row_ids(content: str, pattern: str) -> list[int]:
    seen: dict[int, None] = {}
    for match in re.finditer(pattern, content):
        seen.setdefault(int(match.group(1)), None)
    return list(seen)


def _check_page(item: dict, response, page: ListPage, *, last: bool) -> None:
    checks = item["checks"]
    floor_rows = (item.pop("floor_body") or {}).get("rows", [])
    if response.status_code != 200:
        return
    content = response.content.decode()
    ids = _row_ids(content, page.row_link)
    checks.update(rows=len(ids), floor_rows=len(floor_rows), next=next_link(content) or None)
    checks["same_rows_as_floor"] = ids == [r["id"] for r in floor_rows]
    if not checks["same_rows_as_floor"]:
        _problem(item, "the floor's rows are not the page's")
    if last:
        checks["verified_last"] = checks["next"] is None and bool(ids)
        if not checks["verified_last"]:
            _problem(item, "NOT the last page: it links a next page")


def page_last_cursor(spec: floors.PageFloor, size: int = DEFAULT_PAGE_SIZE) -> str | None:
    """The `after` cursor whose page is the last `size` rows (None: everything fits on the first page)."""
    name = spec.order.lstrip("-")
    columns = [("id", "pk")] + ([] if name == "pk" else [(name, name)])
    found = floors.rows(spec.base().order_by(*_reversed(spec.order_by()))[size : size + 1], columns)
    return spec.cursor(found[0]) if found else None


def list_page_items(ctx: Context, page: ListPage) -> list[dict]:
    spec = floors.PAGE_FLOORS[page.name]
    floor_path = f"/bench-floor/pages/{page.name}/"
    group, out = "List pages", []

    item, response = _item(
        ctx,
        key=f"page.{page.name}.first",
        group=group,
        label=f"{page.path} · first",
        url=page.path,
        floor_url=floor_path,
        target=page.target,
    )
    _check_page(item, response, page, last=False)
    out.append(item)

    url, depth = page.path, 0
    content = response.content.decode() if response.status_code == 200 else ""
    while depth < ctx.deep and next_link(content):
        url = next_link(content)
        answer = ctx.client.get(url)
        content = answer.content.decode() if answer.status_code == 200 else ""
        depth += 1
    query = urlsplit(url).query
    item, response = _item(
        ctx,
        key=f"page.{page.name}.deep",
        group=group,
        label=f"{page.path} · {depth} next deep",
        url=url,
        floor_url=f"{floor_path}?{query}" if query else floor_path,
        target=page.target,
    )
    _check_page(item, response, page, last=False)
    item["checks"]["depth"] = depth
    if depth < ctx.deep:
        item["checks"]["note"] = f"the list ends after {depth} next links"
    out.append(item)

    cursor = page_last_cursor(spec)
    query = urlencode({"after": cursor}) if cursor else ""
    item, response = _item(
        ctx,
        key=f"page.{page.name}.last",
        group=group,
        label=f"{page.path} · last",
        url=f"{page.path}?{query}" if query else page.path,
        floor_url=f"{floor_path}?{query}" if query else floor_path,
        target=page.target,
    )
    _check_page(item, response, page, last=True)
    item["checks"]["cursor"] = cursor
    out.append(item)
    return out


# --- detail pages --------------------------------------------------------------------------------------------


def _top(sql: str) -> tuple[int, int] | None:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchone()


def heaviest_lead() -> tuple[int, int] | None:
    """(lead id, stage changes + activities) of the lead with the most of both."""
    changes, activities = LeadStageChange._meta.db_table, Activity._meta.db_table
    return _top(
        f"SELECT lead_id, COUNT(*) AS n FROM (SELECT lead_id FROM {changes} UNION ALL "  # nosec B608 - table names
        f"SELECT lead_id FROM {activities}) AS rows GROUP BY lead_id ORDER BY n DESC, lead_id LIMIT 1"
    )


def heaviest_customer() -> tuple[int, int] | None:
    """(customer id, leads + orders + complaints) of the live customer with the most of them."""
    tables = [m._meta.db_table for m in (Lead, Order, Complaint)]
    parts = " UNION ALL ".join(f"SELECT customer_id FROM {table}" for table in tables)  # nosec B608 - table names
    customers = Customer._meta.db_table
    return _top(
        f"SELECT r.customer_id, COUNT(*) AS n FROM ({parts}) AS r JOIN {customers} c ON c.id = r.customer_id "  # nosec B608
        "WHERE c.merged_into_id IS NULL GROUP BY r.customer_id ORDER BY n DESC, r.customer_id LIMIT 1"
    )


def detail_items(ctx: Context) -> list[dict]:
    out = []
    lead = heaviest_lead()
    if lead:
        item, response = _item(
            ctx,
            key="page.lead_detail",
            group="Detail pages",
            label=f"/leads/{lead[0]}/ · heaviest lead ({lead[1]} changes + activities)",
            url=f"/leads/{lead[0]}/",
            floor_url=f"/bench-floor/pages/leads/{lead[0]}/",
            target=None,
        )
        item.pop("floor_body")
        item["checks"] = {"stage_changes_and_activities": lead[1]}
        out.append(item)
    customer = heaviest_customer()
    if customer:
        item, response = _item(
            ctx,
            key="page.customer_360",
            group="Detail pages",
            label=f"/customers/{customer[0]}/ · 360 ({customer[1]} leads + orders + complaints)",
            url=f"/customers/{customer[0]}/",
            floor_url=f"/bench-floor/pages/customers/{customer[0]}/",
            target=None,
        )
        item.pop("floor_body")
        item["checks"] = {"leads_orders_complaints": customer[1]}
        out.append(item)
    return out


# --- metrics and boards --------------------------------------------------------------------------------------


def metric_items(ctx: Context) -> list[dict]:
    quarter = okr_selectors.current_quarter()
    start, end = okr_selectors.quarter_bounds(quarter)
    out = []
    for name in metrics.REGISTRY:
        url = f"/api/v1/metrics/{name}/?{urlencode({'start': start.isoformat(), 'end': end.isoformat()})}"
        item, response = _item(
            ctx,
            key=f"metric.{name}",
            group="Metrics (API)",
            label=f"metric {name} ({quarter})",
            url=url,
            floor_url=TRIVIAL,
            target=METRIC_TARGET,
        )
        item.pop("floor_body")
        if response.status_code == 200 and "value" in response.json():
            item["checks"] = {"value": response.json()["value"]}
        elif response.status_code == 200:
            _problem(item, "no `value` in the answer")
        out.append(item)
    return out


def _last_month(today: date) -> tuple[date, date]:
    end = today.replace(day=1)
    return (end - timedelta(days=1)).replace(day=1), end


def overlap_items(ctx: Context) -> list[dict]:
    """The overlap page and API over last month's touchpoints (2 million at bench scale over half a year: about
    330,000 a month), and the page over the current quarter, each beside the per-channel touch count."""
    month = _last_month(timezone.localdate())
    quarter_name = okr_selectors.current_quarter()
    quarter = okr_selectors.quarter_bounds(quarter_name)
    out = []
    for key, label, path, (start, end), target in (
        ("overlap.page.month", "/marketing/channels/overlap/", "/marketing/channels/overlap/", month, OVERLAP_TARGET),
        ("overlap.api.month", "GET /api/v1/channels/overlap/", "/api/v1/channels/overlap/", month, OVERLAP_TARGET),
        ("overlap.page.quarter", "/marketing/channels/overlap/", "/marketing/channels/overlap/", quarter, None),
    ):
        query = urlencode({"start": start.isoformat(), "end": end.isoformat()})
        span = f"{start:%Y-%m}" if key.endswith("month") else quarter_name
        item, response = _item(
            ctx,
            key=key,
            group="Channel overlap",
            label=f"{label} ({span}, {_touches(start, end):,} touchpoints)",
            url=f"{path}?{query}",
            floor_url=f"/bench-floor/overlap/?{query}",
            target=target,
        )
        item.pop("floor_body")
        if response.status_code == 200 and path.startswith("/api/"):
            totals = response.json()["totals"]
            item["checks"] = {k: totals[k] for k in ("reached", "multi_channel", "duplicate_reach_rate")}
        elif response.status_code == 200:
            heat_map = b'data-testid="overlap-heatmap"' in response.content
            item["checks"] = {"bytes": len(response.content), "heat_map": heat_map}
            if not item["checks"]["heat_map"]:
                _problem(item, "no heat map on the page")
        out.append(item)
    return out


def _touches(start: date, end: date) -> int:
    start_at, end_at = (timezone.make_aware(datetime.combine(day, time.min)) for day in (start, end))
    return Touchpoint.objects.filter(at__gte=start_at, at__lt=end_at).count()


def board_items(ctx: Context) -> list[dict]:
    out = []
    for key, label, url, target in (
        ("board.okr", f"OKR board /okr/ ({okr_selectors.current_quarter()})", "/okr/", BOARD_TARGET),
        ("board.pipeline", "pipeline board /leads/board/", "/leads/board/", None),
    ):
        item, response = _item(ctx, key=key, group="Boards", label=label, url=url, floor_url=TRIVIAL, target=target)
        item.pop("floor_body")
        item["checks"] = {"bytes": len(response.content)}
        out.append(item)
    return out
