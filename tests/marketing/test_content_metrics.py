"""The content metrics (DESIGN.md "Metrics"): over messages sent in the period, opened ÷ sent, clicked ÷ sent and
converted ÷ sent, filtered by content, journey and (message) channel; null without sends; bindable to key results.
Hand-computed below; run on SQLite and on PostgreSQL (DATABASE_URL)."""

from datetime import date, datetime

import pytest
import time_machine
from django.urls import reverse

from marketing.models import Journey
from okr.models import KeyResult
from tests.factories import ContentVariantFactory, MessageFactory, ObjectiveFactory, make_user

pytestmark = pytest.mark.django_db

NOW = datetime.fromisoformat("2026-03-20T10:00:00+08:00")
START, END = date(2026, 3, 1), date(2026, 3, 11)


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def metric(api_as):
    """`metric(name, start, end, **filters)` → GET metrics/{name}/'s JSON body (asserting 200)."""
    api = api_as("sales")

    def get(name, start, end, **filters):
        response = api.get(f"/api/v1/metrics/{name}/", {"start": start.isoformat(), "end": end.isoformat(), **filters})
        assert response.status_code == 200, response.content
        return response.json()

    return get


def at(text: str) -> datetime:
    return datetime.fromisoformat(f"{text}+08:00")


@pytest.fixture
def data():
    """Five messages sent in [1 March, 11 March) local time, and others that do not count:

    #  item  channel  journey  sent                 opened clicked converted
    1  X     email    J        03-02 10:00          yes    yes     yes
    2  X     email    J        03-03 10:00          yes
    3  X     sms      -        03-04 10:00          yes    yes
    4  X     email    -        03-05 10:00
    5  Y     email    J        03-06 10:00          yes            yes
    6  X     email    -        02-28 23:59:59       yes            (before the period)
    7  X     email    -        03-11 00:00          yes            (the end is exclusive)
    8  X     email    -        skipped (cap), 9 failed (sent_at 03-07), 10 queued: never sent
    """
    x, y = ContentVariantFactory().item, ContentVariantFactory().item
    journey = Journey.objects.create(name="Welcome", trigger={"type": "signed_up"}, goal="activated")
    done = at("2026-03-08T12:00:00")
    rows = [
        (x, "email", journey, "2026-03-02T10:00:00", True, True, True),
        (x, "email", journey, "2026-03-03T10:00:00", True, False, False),
        (x, "sms", None, "2026-03-04T10:00:00", True, True, False),
        (x, "email", None, "2026-03-05T10:00:00", False, False, False),
        (y, "email", journey, "2026-03-06T10:00:00", True, False, True),
        (x, "email", None, "2026-02-28T23:59:59", True, False, False),
        (x, "email", None, "2026-03-11T00:00:00", True, False, False),
    ]
    for item, channel, in_journey, sent, opened, clicked, converted in rows:
        MessageFactory(
            variant=item.variants.get(),
            channel=channel,
            journey=in_journey,
            sent_at=at(sent),
            opened_at=done if opened else None,
            clicked_at=done if clicked else None,
            converted_at=done if converted else None,
            conversion_kind="lead" if converted else "",
        )
    variant = x.variants.get()
    MessageFactory(variant=variant, status="skipped", skip_reason="cap", sent_at=None)
    MessageFactory(variant=variant, status="failed", sent_at=at("2026-03-07T10:00:00"), opened_at=done)
    MessageFactory(variant=variant, status="queued", sent_at=None, scheduled_for=at("2026-03-07T09:00:00"))
    return {"x": x, "y": y, "journey": journey}


def _rates(metric, **filters) -> tuple:
    return tuple(
        metric(name, START, END, **filters)["value"]
        for name in ("content_open_rate", "content_click_rate", "content_conversion_rate")
    )


def test_the_three_rates_over_every_message_sent_in_the_period(metric, data):
    body = metric("content_open_rate", START, END)
    assert (body["sent"], body["opened"], body["clicked"], body["converted"], body["sample_size"]) == (5, 4, 2, 2, 5)
    assert _rates(metric) == (0.8, 0.4, 0.4)  # 4/5, 2/5, 2/5


def test_filtered_by_content_journey_and_channel(metric, data):
    assert _rates(metric, content=data["x"].pk) == (0.75, 0.5, 0.25)  # 1-4: 3/4, 2/4, 1/4
    assert _rates(metric, journey=data["journey"].pk) == (1.0, 0.3333, 0.6667)  # 1, 2, 5: 3/3, 1/3, 2/3
    assert _rates(metric, channel="sms") == (1.0, 1.0, 0.0)  # 3 alone
    assert _rates(metric, content=data["x"].pk, channel="email") == (0.6667, 0.3333, 0.3333)  # 1, 2, 4


def test_no_sends_is_null_not_zero(metric, data):
    body = metric("content_click_rate", date(2025, 1, 1), date(2025, 2, 1))
    assert (body["value"], body["sent"]) == (None, 0)
    assert _rates(metric, channel="wecom") == (None, None, None)


@pytest.mark.parametrize(
    ("filters", "field"),
    [({"channel": "fax"}, "channel"), ({"content": "abc"}, "content"), ({"department": "sales"}, "department")],
)
def test_bad_filters_are_named(api_as, filters, field):
    response = api_as("sales").get(
        "/api/v1/metrics/content_open_rate/", {"start": "2026-03-01", "end": "2026-03-11", **filters}
    )
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == field


def test_the_registry_lists_them_with_their_filters(api_as):
    listed = {m["name"]: m for m in api_as("service").get("/api/v1/metrics/").json()["results"]}
    for name in ("content_open_rate", "content_click_rate", "content_conversion_rate"):
        assert listed[name]["unit"] == "ratio" and listed[name]["filters"] == ["content", "journey", "channel"]


def test_a_key_result_binds_a_content_metric_with_its_filters(api_as, data):
    manager = make_user("marketing_manager")
    objective = ObjectiveFactory(department="marketing", quarter="2026Q1", owner=manager)
    api = api_as(user=manager)
    body = {
        "objective": objective.pk,
        "title": "Clicks on the spring offer by email",
        "metric": "content_click_rate",
        "metric_filters": {"content": str(data["x"].pk), "channel": "email"},
        "baseline": "0.1",
        "target": "0.3",
    }
    created = api.post("/api/v1/key-results/", body, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["metric_filters"] == {"content": data["x"].pk, "channel": "email"}
    # The quarter: X by email, 1, 2, 4, 6 and 7 were sent in it (the failed, skipped and queued never were); only 1
    # was clicked: 1/5.
    assert api.get(f"/api/v1/key-results/{created.json()['id']}/").json()["current"] == 0.2

    refused = api.post("/api/v1/key-results/", {**body, "metric_filters": {"channel": "fax"}}, format="json")
    assert refused.status_code == 400 and refused.json()["errors"][0]["field"] == "metric_filters"
    assert KeyResult.objects.count() == 1


def test_the_key_result_form_offers_the_content_filters(client_as, data):
    manager = make_user("marketing_manager")
    objective = ObjectiveFactory(department="marketing", quarter="2026Q1", owner=manager)
    client = client_as(user=manager)
    url = reverse("okr:key-result-new", args=[objective.pk])
    response = client.post(
        url,
        {
            "title": "Opens of the spring offer",
            "metric": "content_open_rate",
            "content": data["x"].pk,
            "channel": "sms",
            "baseline": "0",
            "target": "1",
            "direction": "up",
        },
    )
    assert response.status_code == 302, response.content
    assert KeyResult.objects.get().metric_filters == {"content": data["x"].pk, "channel": "sms"}
