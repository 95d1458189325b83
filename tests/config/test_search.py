"""The top bar's search (config.search): customers by name, company or any identity (phones and emails matched
normalized), leads and complaints by number, customer or text; grouped by kind, one query per kind, staff only.
Runs on SQLite and on PostgreSQL (pg_trgm)."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from config.search import text_match
from customers.models import Customer, IdentityKind
from tests.conftest import ROLES
from tests.factories import (
    ComplaintFactory,
    CustomerFactory,
    CustomerIdentityFactory,
    LeadFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db
URL = reverse("search")


def _hits(response) -> dict[str, list[str]]:
    """{kind: [link, …]} of a results page or dropdown."""
    assert response.status_code == 200
    return {group.key: [hit.url for hit in group.hits] for group in response.context["groups"]}


def _customer_url(customer) -> str:
    return reverse("customers:customer-detail", args=[customer.pk])


@pytest.fixture
def searcher(client_as):
    return client_as("sales")


@pytest.mark.parametrize("typed", ["138 0013 8000", "+86 13800138000", "13800138000", "0086-138-0013-8000"])
def test_a_phone_is_found_however_it_is_written(searcher, typed):
    customer = CustomerFactory(name="Zhang Wei")
    CustomerIdentityFactory(customer=customer, kind=IdentityKind.PHONE, value="+8613800138000")
    CustomerIdentityFactory(kind=IdentityKind.PHONE, value="+8613900139000")  # someone else
    assert _hits(searcher.get(URL, {"q": typed})).get("customers") == [_customer_url(customer)]


def test_an_email_is_found_in_any_case(searcher):
    customer = CustomerFactory()
    CustomerIdentityFactory(customer=customer, kind=IdentityKind.EMAIL, value="li.na@example.com")
    assert _hits(searcher.get(URL, {"q": " Li.Na@Example.COM "}))["customers"] == [_customer_url(customer)]


@pytest.mark.parametrize(
    ("kind", "value"),
    [(IdentityKind.WECHAT, "wxid_li_na"), (IdentityKind.WECOM, "LiNa"), (IdentityKind.MEMBER_CARD, "VIP-000123")],
)
def test_any_other_identity_is_found_by_its_value(searcher, kind, value):
    customer = CustomerFactory()
    CustomerIdentityFactory(customer=customer, kind=kind, value=value)
    assert _hits(searcher.get(URL, {"q": value}))["customers"] == [_customer_url(customer)]


def test_a_customer_is_found_by_name_or_company(searcher):
    by_name = CustomerFactory(name="Ouyang Xiu", company="Acme")
    by_company = CustomerFactory(name="Someone", company="Ouyang Trading")
    CustomerFactory(name="Li Bai", company="Tang Poetry")
    hits = _hits(searcher.get(URL, {"q": "ouyang"}))["customers"]
    assert sorted(hits) == sorted([_customer_url(by_name), _customer_url(by_company)])


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a match inside the text needs pg_trgm")
def test_on_postgresql_a_name_matches_anywhere_in_it(searcher):
    customer = CustomerFactory(name="Ouyang Xiu", company="")
    assert _hits(searcher.get(URL, {"q": "yang x"}))["customers"] == [_customer_url(customer)]


def test_a_merged_away_customer_is_not_found(searcher):
    survivor = CustomerFactory(name="Merged Zhao")
    CustomerFactory(name="Merged Zhao", merged_into=survivor)
    assert _hits(searcher.get(URL, {"q": "Merged"}))["customers"] == [_customer_url(survivor)]


def test_leads_by_number_customer_name_and_interest(searcher):
    lead = LeadFactory(customer=CustomerFactory(name="Qian Liu"), interest="Solar panels")
    other = LeadFactory(customer=CustomerFactory(name="Sun Qi"), interest="Heat pumps")
    link = reverse("leads:lead-detail", args=[lead.pk])
    assert _hits(searcher.get(URL, {"q": f"#{lead.pk}"}))["leads"] == [link]
    assert link in _hits(searcher.get(URL, {"q": str(lead.pk)}))["leads"]
    assert _hits(searcher.get(URL, {"q": "Qian"}))["leads"] == [link]
    assert _hits(searcher.get(URL, {"q": "solar"}))["leads"] == [link]
    assert _hits(searcher.get(URL, {"q": "Heat"}))["leads"] == [reverse("leads:lead-detail", args=[other.pk])]


def test_complaints_by_number_customer_name_and_how_the_description_starts(searcher):
    complaint = ComplaintFactory(customer=CustomerFactory(name="Feng Yu"), description="Broken screen on arrival")
    ComplaintFactory(customer=CustomerFactory(name="Wu Di"), description="Late delivery")
    link = reverse("feedback:complaint-detail", args=[complaint.pk])
    assert _hits(searcher.get(URL, {"q": f"#{complaint.pk}"}))["complaints"] == [link]
    assert _hits(searcher.get(URL, {"q": "Feng"}))["complaints"] == [link]
    assert _hits(searcher.get(URL, {"q": "broken scr"}))["complaints"] == [link]


def test_results_are_grouped_by_kind_and_link_to_their_records(searcher):
    customer = CustomerFactory(name="Han Mei")
    lead = LeadFactory(customer=customer)
    complaint = ComplaintFactory(customer=customer)
    response = searcher.get(URL, {"q": "Han Mei"})
    assert [group.key for group in response.context["groups"]] == ["customers", "leads", "complaints"]
    html = response.content.decode()
    for url in (_customer_url(customer), f"/leads/{lead.pk}/", f"/feedback/complaints/{complaint.pk}/"):
        assert f'href="{url}"' in html


def test_at_most_ten_per_kind_on_the_page_and_five_in_the_dropdown(searcher):
    for _ in range(12):
        LeadFactory(customer=CustomerFactory(name="Many Lu"))
    assert {k: len(v) for k, v in _hits(searcher.get(URL, {"q": "Many"})).items()} == {"customers": 10, "leads": 10}
    dropdown = searcher.get(URL, {"q": "Many"}, HTTP_HX_REQUEST="true")
    assert {k: len(v) for k, v in _hits(dropdown).items()} == {"customers": 5, "leads": 5}


def test_the_dropdown_is_a_fragment_and_the_page_varies_on_htmx(searcher):
    CustomerFactory(name="Gu Yue")
    dropdown = searcher.get(URL, {"q": "Gu Y"}, HTTP_HX_REQUEST="true")
    assert "<html" not in dropdown.content.decode()
    assert f'href="{URL}?q=Gu%20Y"' in dropdown.content.decode()  # "All results"
    page = searcher.get(URL, {"q": "Gu Y"})
    assert "<html" in page.content.decode()
    assert "HX-Request" in page["Vary"] and "HX-Request" in dropdown["Vary"]


@pytest.mark.parametrize("typed", ["", " ", "a", "#"])
def test_too_little_typed_searches_nothing(searcher, typed):
    CustomerFactory(name="a")
    with CaptureQueriesContext(connection) as queries:
        response = searcher.get(URL, {"q": typed}, HTTP_HX_REQUEST="true")
    assert response.context["groups"] == []
    assert not any("customers_customer" in q["sql"] for q in queries.captured_queries)


def _search_queries(client, typed: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(URL, {"q": typed})
    assert response.status_code == 200
    return len(queries.captured_queries)


@pytest.mark.parametrize("typed", ["Chen Jing", "+86 186 1234 5678", "#1"])
def test_one_query_per_kind_whatever_matches(searcher, django_assert_max_num_queries, typed):
    def make(n):
        for _ in range(n):
            customer = CustomerFactory(name="Chen Jing")
            CustomerIdentityFactory(customer=customer, kind=IdentityKind.PHONE, value=f"+86150{customer.pk:08d}")
            LeadFactory(customer=customer)
            ComplaintFactory(customer=customer)

    first = CustomerFactory(name="Chen Jing")  # the one with the phone searched for
    CustomerIdentityFactory(customer=first, kind=IdentityKind.PHONE, value="+8618612345678")

    _search_queries(searcher, typed)  # warm per-process caches
    small = _search_queries(searcher, typed)
    make(30)
    # session, user, groups, the bell's unread count, then customers, leads, complaints: one query each
    with django_assert_max_num_queries(small):
        large = _search_queries(searcher, typed)
    assert large == small <= 7


@pytest.mark.parametrize("role", ROLES)
def test_every_staff_role_searches(client_as, role):
    CustomerFactory(name="Bai Ling")
    response = client_as(role).get(URL, {"q": "Bai"})
    assert response.status_code == 200
    assert "customers" in _hits(response)


def test_outsiders_do_not_search(client):
    CustomerFactory(name="Bai Ling")
    response = client.get(URL, {"q": "Bai"})
    assert response.status_code == 302 and "/login/" in response["Location"]
    client.force_login(UserFactory())  # signed in, in no department
    response = client.get(URL, {"q": "Bai"})
    assert response.status_code == 403
    assert "Bai Ling" not in response.content.decode()


def test_the_top_bar_has_the_search_box_for_staff_only(client_as, client):
    html = client_as("service").get(reverse("home")).content.decode()
    box = re.search(r'<form class="topsearch" action="([^"]+)" method="get"', html)
    assert box and box.group(1) == URL
    assert f'hx-get="{URL}"' in html
    client.force_login(UserFactory())
    assert 'class="topsearch"' not in client.get(reverse("home")).content.decode()


def test_the_search_page_works_without_javascript(searcher):
    customer = CustomerFactory(name="Lin Feng")
    html = searcher.get(URL, {"q": "Lin"}).content.decode()
    assert '<input type="search" id="search-page-q" name="q" value="Lin"' in html
    assert f'href="{_customer_url(customer)}"' in html
    assert "Nothing matches" in searcher.get(URL, {"q": "zzzz"}).content.decode()


# --- the indexes the search uses (config.search.SearchIndex) ------------------------------------------------------

SEARCH_INDEXES = {
    "customers_customer": ["customers_customer_name_srch", "customers_customer_co_srch"],
    "leads_lead": ["leads_lead_interest_srch"],
    "feedback_complaint": ["feedback_complaint_desc_srch"],
}


def test_the_search_indexes_exist_on_this_database():
    with connection.cursor() as cursor:
        for table, names in SEARCH_INDEXES.items():
            found = connection.introspection.get_constraints(cursor, table)
            assert set(names) <= set(found), table


def _plan(sql: str, params) -> str:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # A tiny table: make the planner show the trigram index (a GIN index answers through a bitmap scan;
            # without the second line it may walk the primary key backwards for the ORDER BY instead).
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("SET LOCAL enable_indexscan = off")
            cursor.execute("EXPLAIN " + sql, params)
        else:
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        return " ".join(str(row) for row in cursor.fetchall())


def test_the_name_match_is_answered_from_its_index():

    CustomerFactory.create_batch(3)
    sql, params = Customer.objects.filter(text_match("name", "Zha")).values("pk").query.sql_with_params()
    assert "customers_customer_name_srch" in _plan(sql, params)
