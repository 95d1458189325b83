"""Checks every keyset-paged list page shares: a fixed query count whatever the length, and next links that walk
the whole list in its order without a duplicate or a gap, and previous links that come back to the same rows."""

from collections.abc import Callable

from django.db import connection
from django.test.utils import CaptureQueriesContext


def get(client, url: str):
    """The page and how many queries it cost."""
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response, len(queries.captured_queries)


def page_ids(response) -> list[int]:
    """The pks of the rows a list page shows (`page` on most lists, `rows` on the simple reference lists)."""
    context = response.context
    if "rows" in context and "page" not in context:
        return [pk for pk, _cells, _link in context["rows"]]
    return [row.pk for row in context["page"]]


def assert_fixed_queries(client, url: str, make: Callable[[int], object], *, assert_max_num_queries, few=3, many=60):
    """`few` rows, then `many`: the full first page costs no more queries than the short one."""
    make(few)
    get(client, url)  # warm per-process caches (content types, the site's translations)
    _response, small = get(client, url)
    make(many - few)
    with assert_max_num_queries(small):
        response = client.get(url)
    assert response.status_code == 200
    return response


def walk(client, url: str, ids_of=page_ids) -> list[list[int]]:
    """Follow the next links from `url`; each page's pks. Every page costs the same number of queries, and each
    page's previous link shows the page before it again."""
    pages, counts, previous = [], [], None
    while url:
        response, count = get(client, url)
        pages.append(ids_of(response))
        counts.append(count)
        if previous is not None:
            back = client.get(response.context["previous_url"])
            assert ids_of(back) == previous, "the previous link shows other rows"
        else:
            assert not response.context["previous_url"], "the first page has no previous link"
        previous, url = pages[-1], response.context["next_url"]
    assert len(set(counts)) == 1, f"pages cost {counts} queries"
    return pages


def assert_walks(client, url: str, expected: list[int], *, page_size: int, ids_of=page_ids) -> None:
    """Walking the next links shows `expected`, in that order, `page_size` rows a page, each row once."""
    pages = walk(client, url, ids_of)
    seen = [pk for page in pages for pk in page]
    assert len(seen) == len(set(seen)), "a row shows on two pages"
    assert seen == expected
    assert [len(page) for page in pages[:-1]] == [page_size] * (len(pages) - 1)
    assert 0 < len(pages[-1]) <= page_size
