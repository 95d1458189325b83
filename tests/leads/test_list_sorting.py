"""The lead list sorts by its column headers (`?sort=`, LeadFilter.ordering), the API by `?ordering=` with the same
keys; keyset and cursor pages stay exact in every order, ties broken by the lead number."""

import re
from base64 import b64encode
from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from config.filters import sort_filter_of
from leads.api.filters import LeadFilter
from leads.models import Lead
from leads.stages import BOARD_STAGES, Stage
from tests.factories import LeadFactory
from tests.paging import assert_fixed_queries, walk

pytestmark = pytest.mark.django_db
URL = reverse("leads:lead-list")


def _ids(response) -> list[int]:
    return [row["pk"] for row in response.context["leads"]]


def _spread(n: int) -> list[Lead]:
    """`n` leads over every stage, created an hour apart (oldest first) and changed in the reverse order."""
    base = timezone.now() - timedelta(days=30)
    leads = []
    for i in range(n):
        lead = LeadFactory(stage=BOARD_STAGES[i % len(BOARD_STAGES)])
        Lead.objects.filter(pk=lead.pk).update(
            created_at=base + timedelta(hours=i), updated_at=base + timedelta(days=10, hours=-i)
        )
        leads.append(Lead.objects.get(pk=lead.pk))
    return leads


def _expected(leads, key: str, descending: bool) -> list[int]:
    rank = {stage: i for i, stage in enumerate(BOARD_STAGES)}
    value = {
        "id": lambda lead: (lead.pk,),
        "created": lambda lead: (lead.created_at, lead.pk),
        "updated": lambda lead: (lead.updated_at, lead.pk),
        "stage": lambda lead: (rank[lead.stage], lead.pk),
    }[key]
    return [lead.pk for lead in sorted(leads, key=value, reverse=descending)]


@pytest.mark.parametrize("key", ["id", "created", "updated", "stage"])
@pytest.mark.parametrize("descending", [False, True])
def test_each_header_sorts_both_ways_and_pages_walk_the_whole_order(client_as, key, descending):
    leads = _spread(23)
    param = f"{'-' if descending else ''}{key}"
    pages = walk(client_as("sales"), f"{URL}?sort={param}&size=5", ids_of=_ids)
    assert [pk for page in pages for pk in page] == _expected(leads, key, descending)


def test_stage_sorts_in_pipeline_order_not_by_code(client_as):
    new, won, contacted = (LeadFactory(stage=s) for s in (Stage.NEW, Stage.WON, Stage.CONTACTED))
    response = client_as("sales").get(URL, {"sort": "stage"})
    assert _ids(response) == [new.pk, contacted.pk, won.pk]


def test_many_ties_page_exactly(client_as):
    """Forty leads in one stage: the stage sort's pages neither repeat nor skip one (pk breaks the tie)."""
    leads = LeadFactory.create_batch(40, stage=Stage.NEW) + LeadFactory.create_batch(3, stage=Stage.WON)
    pages = walk(client_as("sales"), f"{URL}?sort=-stage&size=7", ids_of=_ids)
    seen = [pk for page in pages for pk in page]
    assert seen == [lead.pk for lead in leads[-3:][::-1]] + [lead.pk for lead in leads[:40][::-1]]


def test_an_unknown_sort_shows_the_default_order(client_as):
    leads = LeadFactory.create_batch(3)
    client = client_as("marketing")
    for sort in ("bogus", "-customer__name", "", "--id"):
        response = client.get(URL, {"sort": sort})
        assert response.status_code == 200
        assert _ids(response) == [lead.pk for lead in reversed(leads)]


def test_headers_link_to_their_sort_and_keep_the_filters(client_as):
    LeadFactory(is_high_intent=True)
    html = client_as("sales").get(URL, {"high_intent": "true", "sort": "stage"}).content.decode()
    links = dict(re.findall(r'<a class="sort[^"]*" href="\?([^"]+)" data-testid="sort-link">([^<]+)', html))
    assert "high_intent=true&amp;sort=-stage" in links  # the current sort turns the other way
    assert "high_intent=true&amp;sort=-created" in links  # dates sort newest first
    assert 'aria-sort="ascending"' in html
    # The filter form keeps the sort when the filters change.
    assert '<input type="hidden" name="sort" value="stage">' in html


def test_the_next_link_keeps_the_sort(client_as):
    LeadFactory.create_batch(6)
    response = client_as("sales").get(URL, {"sort": "-updated", "size": 4})
    assert "sort=-updated" in response.context["next_url"]


@pytest.mark.parametrize("sort", ["stage", "-updated", "created"])
def test_sorted_list_queries_do_not_grow(client_as, django_assert_max_num_queries, sort):
    client = client_as("marketing_manager")  # the bulk handoff form shows too
    assert_fixed_queries(
        client,
        f"{URL}?sort={sort}",
        lambda n: _spread(n),
        assert_max_num_queries=django_assert_max_num_queries,
        few=1,
        many=30,
    )


# --- the API: ?ordering= -------------------------------------------------------------------------------------


def _api_walk(api, url) -> list[int]:
    seen = []
    while url:
        body = api.get(url).json()
        seen += [row["id"] for row in body["results"]]
        url = body["next"]
    return seen


@pytest.mark.parametrize("key", ["id", "created", "updated", "stage"])
def test_api_ordering_takes_the_same_keys_and_its_cursor_pages_are_exact(api_as, key):
    leads = _spread(17) + LeadFactory.create_batch(12, stage=Stage.NEW)  # many ties in "new"
    leads = list(Lead.objects.filter(pk__in=[lead.pk for lead in leads]))
    api = api_as("sales")
    for descending in (False, True):
        param = f"{'-' if descending else ''}{key}"
        assert _api_walk(api, f"/api/v1/leads/?ordering={param}&page_size=5") == _expected(leads, key, descending)


def test_api_previous_links_come_back_to_the_same_rows(api_as):
    LeadFactory.create_batch(15, stage=Stage.NEW)
    api = api_as("sales")
    first = api.get("/api/v1/leads/?ordering=stage&page_size=4").json()
    second = api.get(first["next"]).json()
    back = api.get(second["previous"]).json()
    assert [r["id"] for r in back["results"]] == [r["id"] for r in first["results"]]


@pytest.mark.parametrize("ordering", ["bogus", "customer__name", "stage,-id"])
def test_api_refuses_an_unknown_or_second_sort_key_naming_ordering(api_as, ordering):
    response = api_as("sales").get("/api/v1/leads/", {"ordering": ordering})
    assert response.status_code == 400
    assert [error["field"] for error in response.json()["errors"]] == ["ordering"]


def test_api_refuses_a_forged_cursor_on_a_sorted_list(api_as):
    cursor = b64encode(b"o=0&r=0&p=not-a-rank").decode()
    response = api_as("sales").get("/api/v1/leads/", {"ordering": "stage", "cursor": cursor})
    assert response.status_code == 400
    assert [error["field"] for error in response.json()["errors"]] == ["cursor"]


@pytest.mark.parametrize("n", [1, 30])
def test_api_sorted_list_queries_do_not_grow(api_as, django_assert_max_num_queries, n):
    api = api_as("sales")
    _spread(n)
    with django_assert_max_num_queries(3):  # groups, rows, tags
        response = api.get("/api/v1/leads/", {"ordering": "-stage", "page_size": 50})
    assert len(response.json()["results"]) == n


@pytest.mark.postgres
def test_on_postgresql_the_stage_sort_reads_its_index_in_order():
    """ORDER BY the pipeline rank, id is the very expression of leads_lead_stage_rank_idx: no sort of the table."""
    LeadFactory.create_batch(3)
    sort = sort_filter_of(LeadFilter)
    rows, order = sort.apply(Lead.objects.all(), "stage", True)
    sql, params = rows.order_by(order, "-pk").values("pk")[:50].query.sql_with_params()
    with connection.cursor() as cursor:
        # A tiny table: make the planner show whether the index can give the order (it sorts 3 rows otherwise).
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("EXPLAIN " + sql, params)
        plan = " ".join(row[0] for row in cursor.fetchall())
    assert "Index Scan Backward using leads_lead_stage_rank_idx" in plan, plan
