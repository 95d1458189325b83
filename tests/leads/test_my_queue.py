"""The seller's queue (/leads/queue/): the handoffs awaiting their decision come newest first and are paged, so a
fresh handoff is always on the first page, however many older ones wait."""

from datetime import timedelta

import pytest
from django.utils import timezone

from leads.models import Lead
from leads.stages import Stage
from tests.factories import LeadFactory, lead_through, make_user
from tests.paging import assert_walks

pytestmark = pytest.mark.django_db
H = timedelta(hours=1)


def _older_handoffs(owner, n):
    """n handoffs to `owner`, the newest a day old (bulk: the queue reads rows, not history)."""
    start = timezone.now() - 24 * H
    return [
        LeadFactory(handed_off=True, owner=owner, handed_off_at=start - i * H, first_handed_off_at=start - i * H)
        for i in range(n)
    ]


def _awaiting(response):
    section = next(s for s in response.context["sections"] if s.key == "awaiting_decision")
    return [row["pk"] for row in section.leads]


def test_a_fresh_handoff_is_first_on_the_sellers_queue_even_with_40_older_ones(client_as):
    seller = make_user("sales")
    older = _older_handoffs(seller, 40)
    fresh = lead_through(Stage.HANDED_OFF, owner=seller)
    response = client_as(user=seller).get("/leads/queue/")
    shown = _awaiting(response)
    assert shown[0] == fresh.pk
    assert shown == [fresh.pk, *(lead.pk for lead in older)]  # newest handoff first, none left out
    assert f'href="/leads/{fresh.pk}/"' in response.content.decode()


def test_the_awaiting_section_pages_through_every_handoff_newest_first(client_as):
    seller = make_user("sales")
    older = _older_handoffs(seller, 60)
    _older_handoffs(make_user("sales"), 3)  # a colleague's never show
    client = client_as(user=seller)
    expected = [lead.pk for lead in older]  # already newest first
    assert_walks(client, "/leads/queue/", expected, page_size=50, ids_of=_awaiting)


def test_the_sales_manager_sees_every_owned_handoff_newest_first(client_as):
    one, two = make_user("sales"), make_user("sales")
    first = lead_through(Stage.HANDED_OFF, owner=one, now=timezone.now() - 3 * H)
    second = lead_through(Stage.HANDED_OFF, owner=two, now=timezone.now() - H)
    response = client_as("sales_manager").get("/leads/queue/")
    assert _awaiting(response) == [second.pk, first.pk]


def test_the_pool_section_shows_the_newest_arrivals(client_as):
    old = LeadFactory(handed_off=True, handed_off_at=timezone.now() - 50 * H)
    new = LeadFactory(handed_off=True, handed_off_at=timezone.now() - H)
    response = client_as("sales").get("/leads/queue/")
    pool = next(s for s in response.context["sections"] if s.key == "pool")
    assert [row["pk"] for row in pool.leads] == [new.pk, old.pk]
    assert Lead.objects.filter(stage=Stage.HANDED_OFF, owner__isnull=True).count() == 2
