"""`content/` and `content/{id}/variants/` (DESIGN.md "REST API contract", Payloads: Content): marketing writes,
every staff member reads; an allowed link must be an absolute http(s) URL, refused by its index; content in use
is switched off, not deleted."""

import pytest

from marketing.models import ContentItem, ContentVariant, Journey, JourneyStep, StepKind
from tests.factories import ContentItemFactory, ContentVariantFactory, MessageFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/content/"
WRITERS = ["marketing", "marketing_manager", "admin"]
READERS_ONLY = ["sales", "service", "sales_manager", "service_manager"]
PAYLOAD = {
    "title": "Spring offer",
    "stage": "consideration",
    "tags": ["spring", "offer"],
    "urls": ["https://Example.com/offer", "https://example.com/faq?x=1"],
}


def _variants_url(item) -> str:
    return f"{URL}{item.pk}/variants/"


@pytest.mark.parametrize("role", WRITERS)
def test_marketing_creates_reads_updates_and_deletes_content(api_as, role):
    api = api_as(role)
    created = api.post(URL, PAYLOAD, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["title"] == "Spring offer" and body["stage"] == "consideration" and body["language"] == "en"
    assert body["tags"] == ["spring", "offer"]
    assert body["urls"] == ["https://example.com/offer", "https://example.com/faq?x=1"]  # stored in one spelling
    assert body["is_active"] is True and body["variants"] == [] and body["created_by"] == api.user.pk
    item_url = f"{URL}{body['id']}/"

    read = api.get(item_url)
    assert read.status_code == 200 and read["ETag"]
    patched = api.patch(item_url, {"is_active": False, "language": "zh-hans"}, format="json")
    assert patched.status_code == 200
    assert (patched.json()["is_active"], patched.json()["language"], patched.json()["title"]) == (
        False,
        "zh-hans",
        "Spring offer",
    )
    stale = api.put(
        item_url, {**PAYLOAD, "is_active": True, "language": "en"}, format="json", HTTP_IF_MATCH=read["ETag"]
    )
    assert stale.status_code == 412
    assert api.delete(item_url).status_code == 204
    assert not ContentItem.objects.exists()


@pytest.mark.parametrize("role", READERS_ONLY)
def test_other_departments_read_but_never_write(api_as, role):
    item = ContentVariantFactory().item
    api = api_as(role)
    assert api.get(URL).status_code == 200
    assert api.get(f"{URL}{item.pk}/").status_code == 200
    assert api.get(_variants_url(item)).status_code == 200
    assert api.post(URL, PAYLOAD, format="json").status_code == 403
    assert api.patch(f"{URL}{item.pk}/", {"title": "Mine"}, format="json").status_code == 403
    assert api.delete(f"{URL}{item.pk}/").status_code == 403
    assert api.post(_variants_url(item), {"title": "B", "body": "x"}, format="json").status_code == 403
    variant = item.variants.get()
    assert api.patch(f"{_variants_url(item)}{variant.pk}/", {"title": "x"}, format="json").status_code == 403
    assert api.delete(f"{_variants_url(item)}{variant.pk}/").status_code == 403
    item.refresh_from_db()
    assert item.title != "Mine" and item.variants.count() == 1


def test_anonymous_is_refused(client):
    assert client.get(URL).status_code in (401, 403)


@pytest.mark.parametrize(
    ("urls", "field"),
    [
        (["https://example.com/a", "https://example.com/b", "example.com/c"], "urls[2]"),
        (["javascript:alert(1)"], "urls[0]"),
        (["https://example.com/", "ftp://example.com/"], "urls[1]"),
        (["https://example.com/", 42], "urls[1]"),
        ("https://example.com/", "urls"),
        ([f"https://example.com/{n}" for n in range(51)], "urls"),
    ],
)
def test_a_link_that_is_not_an_absolute_http_url_is_refused_by_its_index(api_as, urls, field):
    response = api_as("marketing").post(URL, {**PAYLOAD, "urls": urls}, format="json")
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert not ContentItem.objects.exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"title": "  "}, "title"),
        ({"stage": "nurture"}, "stage"),
        ({"language": "fr"}, "language"),
        ({"tags": ["ok", ""]}, "tags[1]"),
        ({"tags": "spring"}, "tags"),
        ({"is_active": "maybe"}, "is_active"),
    ],
)
def test_bad_fields_are_named_and_nothing_is_written(api_as, payload, field):
    response = api_as("marketing").post(URL, {**PAYLOAD, **payload}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == field
    assert not ContentItem.objects.exists()


def test_put_replaces_the_whole_item_and_names_what_is_missing(api_as):
    item = ContentItemFactory()
    api = api_as("marketing")
    missing = api.put(f"{URL}{item.pk}/", {"title": "Only"}, format="json")
    assert missing.status_code == 400
    assert {e["field"] for e in missing.json()["errors"]} == {"stage", "language", "tags", "urls", "is_active"}
    whole = {**PAYLOAD, "language": "en", "is_active": True}
    assert api.put(f"{URL}{item.pk}/", whole, format="json").status_code == 200
    item.refresh_from_db()
    assert item.urls == ["https://example.com/offer", "https://example.com/faq?x=1"]


def test_filters_stage_language_active_and_title(api_as):
    ContentItemFactory(title="Welcome", stage="awareness")
    wanted = ContentItemFactory(title="Decide now", stage="decision", language="zh-hans")
    ContentItemFactory(title="Decide later", stage="decision", is_active=False)
    api = api_as("sales")
    ids = [
        r["id"]
        for r in api.get(URL, {"stage": "decision", "language": "zh-hans", "is_active": "true"}).json()["results"]
    ]
    assert ids == [wanted.pk]
    assert [r["title"] for r in api.get(URL, {"q": "decide"}).json()["results"]] == ["Decide later", "Decide now"]
    bad = api.get(URL, {"stage": "nurture"})
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "stage"


@pytest.mark.parametrize("n", [1, 30])
def test_the_content_list_costs_the_same_queries_for_1_item_as_for_30(api_as, django_assert_max_num_queries, n):
    for _ in range(n):
        ContentVariantFactory(item=ContentVariantFactory(key="A").item, key="B")
    api = api_as("sales")
    with django_assert_max_num_queries(3):  # groups, items, their variants
        response = api.get(URL, {"page_size": 50})
    assert len(response.json()["results"]) == n
    assert [v["key"] for v in response.json()["results"][0]["variants"]] == ["A", "B"]


# --- variants -------------------------------------------------------------------------------------------------------


def test_variants_take_the_next_free_key_and_are_listed_in_key_order(api_as):
    item = ContentItemFactory()
    api = api_as("marketing")
    keys = []
    for title in ("First", "Second", "Third"):
        response = api.post(
            _variants_url(item),
            {"title": title, "body": "See https://example.com/offer", "cover_url": "https://cdn.example.com/c.png"},
            format="json",
        )
        assert response.status_code == 201, response.content
        keys.append(response.json()["key"])
    assert keys == ["A", "B", "C"]
    b = ContentVariant.objects.get(item=item, key="B")
    assert api.delete(f"{_variants_url(item)}{b.pk}/").status_code == 204
    again = api.post(_variants_url(item), {"title": "Again", "body": "x"}, format="json").json()
    assert again["key"] == "B" and again["content"] == item.pk and again["cover_url"] == ""
    listed = api.get(_variants_url(item)).json()["results"]
    assert [(v["key"], v["title"]) for v in listed] == [("A", "First"), ("B", "Again"), ("C", "Third")]
    patched = api.patch(f"{_variants_url(item)}{b.pk + 3}/", {"title": "x"}, format="json")
    assert patched.status_code == 404  # no such variant of this item
    changed = api.patch(f"{_variants_url(item)}{again['id']}/", {"body": "New body"}, format="json")
    assert changed.status_code == 200 and changed.json()["body"] == "New body"


def test_a_variant_of_another_item_or_of_no_item_is_not_found(api_as):
    item, other = ContentVariantFactory().item, ContentVariantFactory().item
    api = api_as("marketing")
    assert api.get(f"{_variants_url(item)}{other.variants.get().pk}/").status_code == 404
    assert api.get(f"{URL}999999/variants/").status_code == 404
    assert api.post(f"{URL}999999/variants/", {"title": "x", "body": "y"}, format="json").status_code == 404


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"title": "", "body": "x"}, "title"),
        ({"title": "x", "body": "   "}, "body"),
        ({"title": "x", "body": "y", "cover_url": "not a url"}, "cover_url"),
        ({"title": "x"}, "body"),
    ],
)
def test_bad_variant_fields_are_named(api_as, payload, field):
    item = ContentItemFactory()
    response = api_as("marketing").post(_variants_url(item), payload, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == field
    assert not ContentVariant.objects.exists()


def test_content_and_variants_in_use_are_not_deleted(api_as):
    message = MessageFactory()
    api = api_as("marketing")
    item, variant = message.item, message.variant
    refused = api.delete(f"{URL}{item.pk}/")
    assert (refused.status_code, refused.json()["code"]) == (409, "in_use")
    assert api.delete(f"{_variants_url(item)}{variant.pk}/").status_code == 409
    journey = Journey.objects.create(name="J", trigger={"type": "signed_up"})
    planned = ContentItemFactory()
    JourneyStep.objects.create(
        journey=journey, position=0, kind=StepKind.SEND, config={"content": planned.pk, "channel": "email"}
    )
    assert api.delete(f"{URL}{planned.pk}/").status_code == 409
    assert ContentItem.objects.count() == 2 and ContentVariant.objects.filter(pk=variant.pk).exists()
