"""Every feedback list is keyset-paged in its own order (queues soonest due first, the rest newest first): a fixed
number of queries whatever its length, and next links that show each row once."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from config.models import Task
from feedback.models import Complaint, Insight, NpsInvitation, NpsResponse
from tests.factories import (
    ComplaintFactory,
    FollowUpTaskFactory,
    InsightFactory,
    NpsInvitationFactory,
    NpsResponseFactory,
)
from tests.paging import assert_fixed_queries, assert_walks

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def _at(i: int, *, forward: bool = False):
    """Times out of creation order, with ties (every value is shared by 3 or 4 rows)."""
    hours = (i * 7) % 17
    return NOW + timedelta(hours=hours) if forward else NOW - timedelta(hours=hours)


def _newest_first(rows, field):
    return [pk for pk, _at in sorted(rows.values_list("pk", field), key=lambda r: (r[1], r[0]), reverse=True)]


def _soonest_first(rows, field):
    """Ascending, ties by pk, rows without a value last."""
    values = rows.values_list("pk", field)
    return [pk for pk, at in sorted(values, key=lambda r: (r[1] is None, r[1] or NOW, r[0]))]


def _complaints(n, user):
    for i in range(n):
        ComplaintFactory(opened_at=_at(i))


def _my_complaints(n, user):
    for i in range(n):
        # Every fifth has no resolution due time yet: the queue shows those last.
        ComplaintFactory(owner=user, resolution_due_at=None if i % 5 == 0 else _at(i, forward=True))


def _nps(n, user):
    for i in range(n):
        NpsResponseFactory(answered_at=_at(i))


def _invitations(n, user):
    NpsInvitationFactory.create_batch(n)


def _follow_ups(n, user):
    for i in range(n):
        FollowUpTaskFactory(due_at=_at(i, forward=True))


def _insights(n, user):
    for i in range(n):
        InsightFactory(created_at=_at(i))


LISTS = {
    "feedback:complaint-list": (
        _complaints,
        lambda user: _newest_first(Complaint.objects.all(), "opened_at"),
    ),
    "feedback:my-complaints": (
        _my_complaints,
        lambda user: _soonest_first(Complaint.objects.filter(owner=user), "resolution_due_at"),
    ),
    "feedback:nps-list": (_nps, lambda user: _newest_first(NpsResponse.objects.all(), "answered_at")),
    "feedback:invitation-list": (
        _invitations,
        lambda user: sorted(NpsInvitation.objects.values_list("pk", flat=True), reverse=True),
    ),
    "feedback:follow-up-list": (_follow_ups, lambda user: _soonest_first(Task.objects.all(), "due_at")),
    "feedback:insight-list": (_insights, lambda user: _newest_first(Insight.objects.all(), "created_at")),
}


@pytest.mark.parametrize("name", LISTS)
def test_list_query_count_does_not_grow(client_as, django_assert_max_num_queries, name):
    client = client_as("service")
    make, _expected = LISTS[name]
    response = assert_fixed_queries(
        client,
        reverse(name),
        lambda n: make(n, client.user),
        assert_max_num_queries=django_assert_max_num_queries,
    )
    assert len(response.context["page"]) == 50 and response.context["next_url"]


@pytest.mark.parametrize("name", LISTS)
def test_next_links_show_the_rest_in_order_without_duplicates(client_as, name):
    client = client_as("service_manager")
    make, expected = LISTS[name]
    make(60, client.user)
    assert_walks(client, reverse(name), expected(client.user), page_size=50)
    assert_walks(client, reverse(name) + "?size=7", expected(client.user), page_size=7)


def test_filters_survive_paging(client_as):
    client = client_as("service")
    for i in range(12):
        ComplaintFactory(opened_at=_at(i), severity="high" if i % 2 else "low")
    first = client.get(reverse("feedback:complaint-list"), {"severity": "high", "size": 4})
    assert "severity=high" in first.context["next_url"] and "size=4" in first.context["next_url"]
    expected = _newest_first(Complaint.objects.filter(severity="high"), "opened_at")
    assert_walks(client, reverse("feedback:complaint-list") + "?severity=high&size=4", expected, page_size=4)


def test_a_malformed_cursor_shows_the_first_page(client_as):
    client = client_as("service")
    _my_complaints(3, client.user)
    first = client.get(reverse("feedback:my-complaints"))
    for cursor in ("x", "not-a-time,3", ",", "2025-13-45T00:00:00,1"):
        response = client.get(reverse("feedback:my-complaints"), {"after": cursor})
        assert response.status_code == 200
        assert [c.pk for c in response.context["page"]] == [c.pk for c in first.context["page"]]


def test_the_pager_renders_next_and_previous_links(client_as):
    client = client_as("service")
    _follow_ups(5, client.user)
    first = client.get(reverse("feedback:follow-up-list") + "?size=2").content.decode()
    assert 'data-testid="next-page"' in first and 'data-testid="previous-page"' not in first
    assert "page=" not in first  # no OFFSET paging left
