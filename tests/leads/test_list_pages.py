import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


def _lead_ids(html: str) -> list[str]:
    return re.findall(r'href="/leads/(\d+)/"', html)


def test_lead_list_pages_by_keyset_without_counting_the_table(client_as):
    client = client_as("sales")
    LeadFactory.create_batch(120)
    seen, url = [], reverse("leads:lead-list")
    with CaptureQueriesContext(connection) as queries:
        while url:
            response = client.get(url)
            seen += _lead_ids(response.content.decode())
            url = response.context["next_url"]
    assert len(seen) == len(set(seen)) == 120
    assert not any("COUNT(" in q["sql"] and "leads_lead" in q["sql"] for q in queries.captured_queries)


def test_previous_link_returns_to_the_same_rows(client_as):
    client = client_as("sales")
    LeadFactory.create_batch(60)
    first = client.get(reverse("leads:lead-list"))
    second = client.get(first.context["next_url"])
    back = client.get(second.context["previous_url"])
    assert _lead_ids(back.content.decode()) == _lead_ids(first.content.decode())


def test_filters_survive_paging(client_as):
    client = client_as("sales")
    LeadFactory.create_batch(55, is_high_intent=True)
    LeadFactory.create_batch(5)
    first = client.get(reverse("leads:lead-list"), {"high_intent": "true"})
    assert "high_intent=true" in first.context["next_url"]
    second = client.get(first.context["next_url"])
    assert len(_lead_ids(first.content.decode()) + _lead_ids(second.content.decode())) == 55


def test_yes_no_filters_offer_any_yes_no(client_as):
    html = client_as("sales").get(reverse("leads:lead-list")).content.decode()
    select = re.search(r'<select name="high_intent".*?</select>', html, re.S).group(0)
    assert re.findall(r"<option[^>]*>([^<]*)</option>", select) == ["Any", "Yes", "No"]


def test_api_yes_no_filters_take_true_and_false(api_as):
    LeadFactory(is_high_intent=True)
    LeadFactory()
    api = api_as("sales")
    assert len(api.get("/api/v1/leads/", {"high_intent": "true"}).json()["results"]) == 1
    assert len(api.get("/api/v1/leads/", {"high_intent": "false"}).json()["results"]) == 1
