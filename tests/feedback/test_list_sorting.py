"""The complaint and NPS lists sort by their column headers (`?sort=`), the API by `?ordering=` with the same keys;
severity sorts by how severe, not by its code; pages stay exact in every order."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from feedback.models import Complaint, NpsResponse, Severity
from tests.factories import ComplaintFactory, NpsResponseFactory
from tests.paging import assert_fixed_queries, walk

pytestmark = pytest.mark.django_db
BASE = timezone.now() - timedelta(days=60)
SEVERITIES = list(Severity.values)  # low … critical


def _complaints(n: int) -> None:
    for i in range(n):
        ComplaintFactory(
            severity=SEVERITIES[i % 4],
            opened_at=BASE + timedelta(hours=i % 5),
            first_response_due_at=None if i % 6 == 0 else BASE + timedelta(hours=i % 3),
            resolution_due_at=BASE + timedelta(days=i % 4),
        )


def _answers(n: int) -> None:
    for i in range(n):
        NpsResponseFactory(score=i % 11, answered_at=BASE + timedelta(hours=i % 7))


def _value(obj, field):
    return SEVERITIES.index(obj.severity) if field == "severity" else getattr(obj, field)


def _expected(model, field, descending) -> list[int]:
    def key(obj):
        value = _value(obj, field)
        return ((value is None) != descending, value if value is not None else 0, obj.pk)

    return [obj.pk for obj in sorted(model.objects.all(), key=key, reverse=descending)]


LISTS = {
    "complaints": (
        "feedback:complaint-list",
        Complaint,
        _complaints,
        {
            "id": "pk",
            "opened": "opened_at",
            "severity": "severity",
            "first_response_due": "first_response_due_at",
            "resolution_due": "resolution_due_at",
        },
    ),
    "nps": ("feedback:nps-list", NpsResponse, _answers, {"id": "pk", "answered": "answered_at", "score": "score"}),
}


def _ids(response) -> list[int]:
    return [row.pk for row in response.context["page"]]


@pytest.mark.parametrize(("kind", "key"), [(kind, key) for kind, spec in LISTS.items() for key in spec[3]])
@pytest.mark.parametrize("descending", [False, True])
def test_each_sortable_header_sorts_both_ways_and_the_pages_walk_it(client_as, kind, key, descending):
    url_name, model, make, sorts = LISTS[kind]
    make(19)
    sort = f"{'-' if descending else ''}{key}"
    client = client_as("service")
    client.get(reverse(url_name))  # warm per-process caches (content types)
    pages = walk(client, f"{reverse(url_name)}?sort={sort}&size=4", ids_of=_ids)
    assert [pk for page in pages for pk in page] == _expected(model, sorts[key], descending)


def test_the_most_severe_complaints_come_first(client_as):
    low, critical, medium = (ComplaintFactory(severity=s) for s in (Severity.LOW, Severity.CRITICAL, Severity.MEDIUM))
    response = client_as("service").get(reverse("feedback:complaint-list"), {"sort": "-severity"})
    assert _ids(response) == [critical.pk, medium.pk, low.pk]
    assert 'aria-sort="descending"' in response.content.decode()


def test_sorting_keeps_the_filters(client_as):
    ComplaintFactory(severity=Severity.HIGH, status="open")
    ComplaintFactory(severity=Severity.HIGH, status="resolved")
    response = client_as("service").get(reverse("feedback:complaint-list"), {"status": "open", "sort": "severity"})
    assert [c.status for c in response.context["page"]] == ["open"]
    assert "status=open&amp;sort=-severity" in response.content.decode()


@pytest.mark.parametrize(
    ("kind", "sort"), [("complaints", "-severity"), ("complaints", "resolution_due"), ("nps", "score")]
)
def test_sorted_lists_cost_the_same_queries_for_1_row_as_for_30(client_as, django_assert_max_num_queries, kind, sort):
    url_name, _model, make, _sorts = LISTS[kind]
    assert_fixed_queries(
        client_as("service_manager"),
        f"{reverse(url_name)}?sort={sort}",
        make,
        assert_max_num_queries=django_assert_max_num_queries,
        few=1,
        many=30,
    )


@pytest.mark.parametrize(
    ("url", "kind", "key"),
    [("/api/v1/complaints/", "complaints", "severity"), ("/api/v1/nps-responses/", "nps", "score")],
)
def test_api_ordering_takes_the_same_keys(api_as, url, kind, key):
    _url_name, model, make, sorts = LISTS[kind]
    make(21)
    api = api_as("service")
    for descending in (False, True):
        seen, next_url = [], f"{url}?ordering={'-' if descending else ''}{key}&page_size=4"
        while next_url:
            body = api.get(next_url).json()
            seen += [row["id"] for row in body["results"]]
            next_url = body["next"]
        assert seen == _expected(model, sorts[key], descending)
