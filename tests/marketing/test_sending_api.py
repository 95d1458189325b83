"""`messages/` (DESIGN.md "REST API contract"): every staff member reads the messages, filtered by customer, journey,
content, status, channel and sent time, cursor-paged in a stable order at a fixed query count; nobody writes them
through the API (sends do)."""

from datetime import datetime, timedelta

import pytest
import time_machine

from marketing.models import Journey
from tests.conftest import ROLES
from tests.factories import ContentVariantFactory, CustomerFactory, MessageFactory

pytestmark = pytest.mark.django_db

NOW = datetime.fromisoformat("2026-03-10T10:00:00+08:00")
URL = "/api/v1/messages/"
FIELDS = {
    "id",
    "customer",
    "journey",
    "content",
    "variant",
    "experiment",
    "channel",
    "status",
    "skip_reason",
    "scheduled_for",
    "sent_at",
    "opened_at",
    "clicked_at",
    "converted_at",
    "conversion_kind",
    "created_at",
}


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=False):
        yield


def _ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


@pytest.mark.parametrize("role", ROLES)
def test_every_role_reads_messages_and_nobody_writes_them(api_as, role):
    message = MessageFactory(opened_at=NOW, conversion_kind="")
    api = api_as(role)
    row = api.get(URL).json()["results"][0]
    assert set(row) == FIELDS
    assert (row["id"], row["customer"], row["content"], row["variant"]) == (
        message.pk,
        message.customer_id,
        message.item_id,
        message.variant_id,
    )
    assert (row["channel"], row["status"], row["opened_at"]) == ("email", "sent", "2026-03-10T10:00:00+08:00")
    assert api.get(f"{URL}{message.pk}/").json() == row
    assert api.post(URL, {"customer": message.customer_id}, format="json").status_code in (403, 405)
    assert api.delete(f"{URL}{message.pk}/").status_code in (403, 405)


def test_anonymous_is_refused(client):
    assert client.get(URL).status_code in (401, 403)


def test_the_filters(api_as):
    ada, bo = CustomerFactory(), CustomerFactory()
    journey = Journey.objects.create(name="Welcome", trigger={"type": "signed_up"})
    item = ContentVariantFactory().item
    in_journey = MessageFactory(customer=ada, journey=journey, sent_at=NOW - timedelta(days=1))
    of_item = MessageFactory(customer=bo, variant=item.variants.get(), channel="sms", sent_at=NOW - timedelta(days=5))
    skipped = MessageFactory(customer=ada, status="skipped", skip_reason="cap", sent_at=None)
    api = api_as("sales")
    assert _ids(api.get(URL)) == [skipped.pk, of_item.pk, in_journey.pk]
    assert _ids(api.get(URL, {"customer": ada.pk})) == [skipped.pk, in_journey.pk]
    assert _ids(api.get(URL, {"journey": journey.pk})) == [in_journey.pk]
    assert _ids(api.get(URL, {"content": item.pk})) == [of_item.pk]
    assert _ids(api.get(URL, {"status": "skipped"})) == [skipped.pk]
    assert _ids(api.get(URL, {"channel": "sms"})) == [of_item.pk]
    window = {"sent_after": (NOW - timedelta(days=2)).isoformat(), "sent_before": NOW.isoformat()}
    assert _ids(api.get(URL, window)) == [in_journey.pk]
    assert _ids(api.get(URL, {"ordering": "-sent"})) == [in_journey.pk, of_item.pk, skipped.pk]
    for bad in ({"status": "lost"}, {"channel": "fax"}, {"customer": "1.5"}, {"sent_after": "yesterday"}):
        response = api.get(URL, bad)
        assert response.status_code == 400 and response.json()["errors"][0]["field"] == next(iter(bad))


def test_pages_follow_each_other_without_repeats(api_as):
    made = [MessageFactory() for _ in range(5)]
    api = api_as("marketing")
    first = api.get(URL, {"page_size": 2}).json()
    second = api.get(first["next"]).json()
    third = api.get(second["next"]).json()
    seen = [r["id"] for page in (first, second, third) for r in page["results"]]
    assert seen == [m.pk for m in reversed(made)] and third["next"] is None
    assert api.get(URL, {"cursor": "garbage"}).status_code == 400


@pytest.mark.parametrize("n", [1, 30])
def test_the_list_costs_the_same_queries_for_1_message_as_for_30(api_as, django_assert_max_num_queries, n):
    for _ in range(n):
        MessageFactory()
    api = api_as("marketing")
    with django_assert_max_num_queries(2):  # groups, the page of rows
        response = api.get(URL, {"channel": "email", "page_size": 50})
    assert len(response.json()["results"]) == n
