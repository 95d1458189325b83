"""The content pages (list filtered by stage and language, an item with its variants and their results, the forms
marketing uses to write them), the messages page, the customer timeline's messages and the content admin."""

from datetime import datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from marketing.models import ContentItem, ContentVariant, Message
from tests.conftest import ROLES
from tests.factories import (
    ContentItemFactory,
    ContentVariantFactory,
    CustomerFactory,
    MessageFactory,
    make_user,
)

pytestmark = pytest.mark.django_db

NOW = datetime.fromisoformat("2026-03-10T10:00:00+08:00")
LIST = reverse("marketing:content-list")
MESSAGES = reverse("marketing:message-list")
WRITERS = ["marketing", "marketing_manager", "admin"]
READERS_ONLY = ["sales", "service", "sales_manager", "service_manager"]


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=False):
        yield


def _rows(response) -> list[int]:
    return [row.pk for row in response.context["page"]]


# --- the content list ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_every_role_reads_the_content_pages_only_marketing_sees_the_buttons(client_as, role):
    item = ContentVariantFactory(item=ContentItemFactory(title="Spring offer"), title="Hello spring").item
    client = client_as(role)
    listed = client.get(LIST)
    assert listed.status_code == 200 and _rows(listed) == [item.pk]
    assert 'data-testid="nav-content"' in listed.content.decode()
    detail = client.get(reverse("marketing:content-detail", args=[item.pk]))
    assert detail.status_code == 200 and "Hello spring" in detail.content.decode()
    writer = role in WRITERS
    assert ('data-testid="content-create"' in listed.content.decode()) is writer
    assert ('data-testid="variant-create"' in detail.content.decode()) is writer


def test_the_list_filters_by_stage_and_language_and_htmx_gets_the_rows(client_as):
    awareness = ContentItemFactory(stage="awareness", language="en")
    decision_zh = ContentItemFactory(stage="decision", language="zh-hans")
    decision_en = ContentItemFactory(stage="decision", language="en")
    client = client_as("sales")
    assert _rows(client.get(LIST)) == [decision_en.pk, decision_zh.pk, awareness.pk]
    assert _rows(client.get(LIST, {"stage": "decision"})) == [decision_en.pk, decision_zh.pk]
    partial = client.get(LIST, {"stage": "decision", "language": "zh-hans"}, HTTP_HX_REQUEST="true")
    assert _rows(partial) == [decision_zh.pk]
    assert "<html" not in partial.content.decode() and 'data-testid="content-row"' in partial.content.decode()
    assert "HX-Request" in partial["Vary"]
    bad = client.get(LIST, {"stage": "nurture"})
    assert bad.status_code == 200 and 'data-field="stage"' in bad.content.decode()


@pytest.mark.parametrize("n", [1, 30])
def test_the_content_list_costs_the_same_queries_at_two_sizes(client_as, django_assert_max_num_queries, n):
    for _ in range(n):
        ContentVariantFactory(item=ContentVariantFactory(key="A").item, key="B")
    client = client_as("marketing")
    client.get(LIST)  # warm the per-process caches
    with django_assert_max_num_queries(5):  # session, user, groups, the rows with their counts, notifications
        response = client.get(LIST, {"stage": "awareness"})
    assert len(_rows(response)) == n
    assert response.context["page"].rows[0].variant_count == 2


def test_the_item_page_shows_each_variants_results_in_fixed_queries(client_as, django_assert_max_num_queries):
    item = ContentItemFactory()
    a = ContentVariantFactory(item=item, key="A")
    b = ContentVariantFactory(item=item, key="B")
    for opened, clicked, converted in ((True, True, True), (True, False, False), (False, False, False)):
        MessageFactory(
            variant=a,
            opened_at=NOW if opened else None,
            clicked_at=NOW if clicked else None,
            converted_at=NOW if converted else None,
        )
    MessageFactory(variant=b, opened_at=NOW)
    MessageFactory(variant=b, status="skipped", sent_at=None, skip_reason="cap", opened_at=None)
    client = client_as("service")
    client.get(reverse("marketing:content-detail", args=[item.pk]))
    with django_assert_max_num_queries(7):  # session, user, groups, item, variants, counts, unread notifications
        response = client.get(reverse("marketing:content-detail", args=[item.pk]))
    shown = response.context["item"]
    counts = {v.key: v.counts for v in shown.variants.all()}
    assert counts["A"] == {
        "sent": 3,
        "opened": 2,
        "clicked": 1,
        "converted": 1,
        "open_rate": 2 / 3,
        "click_rate": 1 / 3,
        "conversion_rate": 1 / 3,
    }
    assert (counts["B"]["sent"], counts["B"]["opened"], counts["B"]["open_rate"]) == (1, 1, 1.0)
    assert (shown.totals["sent"], shown.totals["opened"], shown.totals["open_rate"]) == (4, 3, 0.75)
    assert client.get(reverse("marketing:content-detail", args=[999999])).status_code == 404


# --- the forms -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", WRITERS)
def test_marketing_creates_an_item_and_its_variants_through_the_forms(client_as, role):
    client = client_as(role)
    assert client.get(reverse("marketing:content-create")).status_code == 200
    response = client.post(
        reverse("marketing:content-create"),
        {
            "title": "Welcome",
            "stage": "awareness",
            "language": "en",
            "tags": "welcome, new , ",
            "urls": "https://example.com/start\n\nHTTPS://Example.com/faq",
            "is_active": "on",
        },
    )
    item = ContentItem.objects.get()
    assert response.status_code == 302 and response.url == reverse("marketing:variant-create", args=[item.pk])
    assert item.tags == ["welcome", "new"] and item.urls == ["https://example.com/start", "https://example.com/faq"]
    assert item.created_by == client.user
    added = client.post(
        reverse("marketing:variant-create", args=[item.pk]),
        {"title": "Hi", "cover_url": "", "body": "Start at https://example.com/start"},
    )
    assert added.status_code == 302
    variant = ContentVariant.objects.get()
    assert variant.key == "A"
    edit = reverse("marketing:variant-edit", args=[item.pk, variant.pk])
    assert client.get(edit).status_code == 200
    assert client.post(edit, {"title": "Hi again", "cover_url": "", "body": "x"}).status_code == 302
    edit_item = reverse("marketing:content-edit", args=[item.pk])
    assert client.get(edit_item).context["form"].initial["urls"] == "https://example.com/start\nhttps://example.com/faq"
    saved = client.post(
        edit_item, {"title": "Welcome!", "stage": "decision", "language": "zh-hans", "tags": "", "urls": ""}
    )
    assert saved.status_code == 302
    item.refresh_from_db()
    variant.refresh_from_db()
    assert (item.title, item.stage, item.language, item.urls, item.is_active) == (
        "Welcome!",
        "decision",
        "zh-hans",
        [],
        False,
    )
    assert variant.title == "Hi again"
    assert client.post(reverse("marketing:variant-delete", args=[item.pk, variant.pk])).status_code == 302
    assert client.post(reverse("marketing:content-delete", args=[item.pk])).status_code == 302
    assert not ContentItem.objects.exists()


def test_a_bad_link_is_shown_on_its_field_with_422_and_nothing_is_saved(client_as):
    response = client_as("marketing").post(
        reverse("marketing:content-create"),
        {"title": "Welcome", "stage": "awareness", "language": "en", "urls": "https://example.com/\nnot-a-url"},
    )
    assert response.status_code == 422
    assert "absolute http or https URL" in str(response.context["form"].errors["urls"])
    assert not ContentItem.objects.exists()


@pytest.mark.parametrize("role", READERS_ONLY)
def test_other_departments_cannot_write_through_the_pages(client_as, role):
    variant = ContentVariantFactory()
    item = variant.item
    client = client_as(role)
    for url in (
        reverse("marketing:content-create"),
        reverse("marketing:content-edit", args=[item.pk]),
        reverse("marketing:variant-create", args=[item.pk]),
        reverse("marketing:variant-edit", args=[item.pk, variant.pk]),
    ):
        assert client.get(url).status_code == 403
        assert (
            client.post(url, {"title": "Mine", "stage": "awareness", "language": "en", "body": "x"}).status_code == 403
        )
    assert client.post(reverse("marketing:variant-delete", args=[item.pk, variant.pk])).status_code == 403
    assert client.post(reverse("marketing:content-delete", args=[item.pk])).status_code == 403
    assert ContentItem.objects.get().title == item.title and ContentVariant.objects.count() == 1


def test_deleting_content_in_use_says_why(client_as):
    message = MessageFactory()
    client = client_as("marketing")
    response = client.post(reverse("marketing:content-delete", args=[message.item_id]), follow=True)
    assert "switch it off instead" in response.content.decode()
    assert ContentItem.objects.filter(pk=message.item_id).exists()


# --- the messages page and the timeline -----------------------------------------------------------------------------


def test_the_messages_page_filters_and_sorts(client_as):
    ada, bo = CustomerFactory(name="Ada"), CustomerFactory(name="Bo")
    first = MessageFactory(customer=ada, sent_at=NOW - timedelta(days=2))
    second = MessageFactory(customer=bo, channel="sms", sent_at=NOW - timedelta(days=3))
    skipped = MessageFactory(customer=ada, status="skipped", skip_reason="cap", sent_at=None)
    client = client_as("marketing")
    response = client.get(MESSAGES)
    assert _rows(response) == [skipped.pk, second.pk, first.pk]
    assert "weekly cap" in response.content.decode()
    assert _rows(client.get(MESSAGES, {"customer": ada.pk})) == [skipped.pk, first.pk]
    assert _rows(client.get(MESSAGES, {"channel": "sms"})) == [second.pk]
    assert _rows(client.get(MESSAGES, {"status": "sent", "sort": "sent"})) == [second.pk, first.pk]
    assert _rows(client.get(MESSAGES, {"content": first.item_id})) == [first.pk]
    window = {"sent_after": "2026-03-08T00:00", "sent_before": "2026-03-09T00:00"}
    assert _rows(client.get(MESSAGES, window)) == [first.pk]
    partial = client.get(MESSAGES, {"status": "skipped"}, HTTP_HX_REQUEST="true")
    assert _rows(partial) == [skipped.pk] and "<html" not in partial.content.decode()


@pytest.mark.parametrize("role", ROLES)
def test_every_role_reads_the_messages_page(client_as, role):
    MessageFactory()
    response = client_as(role).get(MESSAGES)
    assert response.status_code == 200 and len(_rows(response)) == 1
    assert ('data-testid="nav-messages"' in response.content.decode()) is (role in WRITERS)


@pytest.mark.parametrize("n", [1, 30])
def test_the_messages_page_costs_the_same_queries_at_two_sizes(client_as, django_assert_max_num_queries, n):
    for _ in range(n):
        MessageFactory()
    client = client_as("marketing")
    client.get(MESSAGES)
    with django_assert_max_num_queries(6):  # session, user, groups, saved views, rows (joined), notifications
        response = client.get(MESSAGES, {"channel": "email"})
    assert len(_rows(response)) == n


def test_the_customer_timeline_shows_messages_and_what_came_of_them(client_as):
    customer = CustomerFactory()
    item = ContentVariantFactory(title="Spring offer").item
    MessageFactory(
        customer=customer,
        variant=item.variants.get(),
        sent_at=NOW - timedelta(days=2),
        opened_at=NOW - timedelta(days=1),
        clicked_at=NOW - timedelta(hours=20),
    )
    MessageFactory(
        customer=customer, variant=item.variants.get(), status="skipped", skip_reason="unsubscribed", sent_at=None
    )
    queued = NOW + timedelta(hours=10)
    MessageFactory(customer=customer, variant=item.variants.get(), status="queued", sent_at=None, scheduled_for=queued)
    response = client_as("sales").get(reverse("customers:customer-detail", args=[customer.pk]))
    kinds = [e.kind for e in response.context["timeline"] if e.kind.startswith("message.")]
    assert sorted(kinds) == sorted(
        ["message.sent", "message.opened", "message.clicked", "message.skipped", "message.queued"]
    )
    page = response.content.decode()
    assert "Email sent: Spring offer" in page and "Email not sent (unsubscribed): Spring offer" in page
    api = client_as("service")
    assert api.get(f"/api/v1/customers/{customer.pk}/timeline/").status_code == 200


# --- the admin -------------------------------------------------------------------------------------------------------


def test_the_admin_edits_content_with_its_variants_inline_through_the_services(client_as):
    item = ContentVariantFactory(title="Old").item
    variant = item.variants.get()
    client = client_as("marketing")
    url = reverse("admin:marketing_contentitem_change", args=[item.pk])
    form = {
        "title": "Renamed",
        "stage": "decision",
        "language": "en",
        "tags": '["vip"]',
        "urls": '["https://Example.com/offer"]',
        "is_active": "on",
        "variants-TOTAL_FORMS": "2",
        "variants-INITIAL_FORMS": "1",
        "variants-MIN_NUM_FORMS": "0",
        "variants-MAX_NUM_FORMS": "1000",
        "variants-0-id": str(variant.pk),
        "variants-0-item": str(item.pk),
        "variants-0-title": "New title",
        "variants-0-cover_url": "",
        "variants-0-body": "Body A",
        "variants-1-id": "",
        "variants-1-item": str(item.pk),
        "variants-1-title": "Second",
        "variants-1-cover_url": "",
        "variants-1-body": "Body B",
    }
    response = client.post(url, form)
    assert response.status_code == 302, response.context["errors"] if response.context else response
    item.refresh_from_db()
    assert (item.title, item.urls, item.tags) == ("Renamed", ["https://example.com/offer"], ["vip"])
    assert list(item.variants.order_by("key").values_list("key", "title")) == [("A", "New title"), ("B", "Second")]

    bad = client.post(url, {**form, "urls": '["nope"]', "variants-TOTAL_FORMS": "1"})
    assert bad.status_code == 200 and "absolute http or https URL" in bad.content.decode()
    assert client_as("sales", user=make_user("sales")).post(url, form).status_code == 403


def test_messages_are_read_only_in_the_admin(client_as):
    message = MessageFactory()
    client = client_as("admin")
    assert client.get(reverse("admin:marketing_message_changelist")).status_code == 200
    assert client.get(reverse("admin:marketing_message_change", args=[message.pk])).status_code == 200
    assert client.get(reverse("admin:marketing_unsubscribe_changelist")).status_code == 200
    assert Message.objects.count() == 1
