"""The lead pool is the sales queue: keyset-paged oldest handoff first, at a fixed number of queries."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from leads.models import Lead
from leads.stages import Stage
from tests.factories import LeadFactory, TagFactory
from tests.paging import assert_fixed_queries, assert_walks

pytestmark = pytest.mark.django_db


def _pool(n):
    now = timezone.now()
    tag = TagFactory(name="vip")
    for i in range(n):
        # Handoff times out of creation order, with ties; the pool shows the longest waiting first.
        lead = LeadFactory(handed_off=True, handed_off_at=now - timedelta(hours=(i * 7) % 17))
        lead.tags.add(tag)
    LeadFactory(accepted=True)  # owned: not in the pool


def _oldest_handoff_first():
    rows = Lead.objects.filter(stage=Stage.HANDED_OFF, owner__isnull=True).values_list("pk", "handed_off_at")
    return [pk for pk, _at in sorted(rows, key=lambda r: (r[1], r[0]))]


def test_pool_query_count_does_not_grow(client_as, django_assert_max_num_queries):
    client = client_as("sales")
    response = assert_fixed_queries(
        client, reverse("leads:pool"), _pool, assert_max_num_queries=django_assert_max_num_queries
    )
    assert len(response.context["page"]) == 50 and response.context["next_url"]


def test_pool_pages_oldest_handoff_first_without_duplicates(client_as):
    client = client_as("sales_manager")
    _pool(60)
    assert_walks(client, reverse("leads:pool"), _oldest_handoff_first(), page_size=50)
    assert_walks(client, reverse("leads:pool") + "?size=8", _oldest_handoff_first(), page_size=8)
    html = client.get(reverse("leads:pool")).content.decode()
    assert 'data-testid="next-page"' in html and "page=" not in html
