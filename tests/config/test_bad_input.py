"""Bad input is a 4xx problem naming what was wrong, never a 500 and never stored (DESIGN.md "REST API contract")."""

import base64
import json
from datetime import datetime
from urllib.parse import quote

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from config import moments
from config.api.fields import LONG_TEXT
from config.api.parsers import MAX_DEPTH, depth_exceeds
from config.errors import DomainError
from customers import services as customer_services
from customers.models import Customer, Order
from feedback.models import Complaint, NpsResponse
from leads.models import Lead
from tests.factories import (
    ChannelFactory,
    ComplaintFactory,
    CustomerFactory,
    CustomerIdentityFactory,
    LeadFactory,
    NpsResponseFactory,
)

pytestmark = pytest.mark.django_db
PROBLEM = "application/problem+json"


def _problem(response, status: int) -> dict:
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["status"] == status
    return body


def _fields(body: dict) -> set:
    return {error["field"] for error in body.get("errors", [])}


# --- the request itself ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("idempotency_key", [None, "big-body-1"])
def test_a_json_body_over_10_mb_is_a_413_problem(api_as, idempotency_key):
    body = json.dumps({"name": "x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE})
    headers = {"HTTP_IDEMPOTENCY_KEY": idempotency_key} if idempotency_key else {}
    response = api_as("marketing").post("/api/v1/customers/", body, content_type="application/json", **headers)
    problem = _problem(response, 413)
    assert problem["code"] == "too_large" and "10 MB" in problem["detail"]
    assert not Customer.objects.exists()


@pytest.mark.parametrize("depth", [5000, MAX_DEPTH + 1])
def test_json_nested_deeper_than_the_limit_is_a_400_problem(api_as, depth):
    body = "[" * depth + "]" * depth
    problem = _problem(api_as("sales").post("/api/v1/orders/", body, content_type="application/json"), 400)
    assert problem["code"] == "too_deep"
    assert problem["errors"] == [{"field": None, "code": "too_deep", "message": problem["detail"]}]


def test_depth_is_measured_without_recursion():
    assert not depth_exceeds({"a": [1, {"b": []}]}, 4)  # object, list, object, list
    assert depth_exceeds({"a": [1, {"b": []}]}, 3)
    nested: list = []
    for _ in range(100_000):  # far beyond Python's recursion limit
        nested = [nested]
    assert depth_exceeds(nested, MAX_DEPTH)


def test_more_than_1000_query_parameters_is_a_400_problem(api_as):
    query = "&".join(f"p{i}=1" for i in range(1001))
    problem = _problem(api_as("sales").get(f"/api/v1/orders/?{query}"), 400)
    assert problem["code"] == "too_many_fields"


def test_more_than_1000_form_fields_is_a_400_problem(api_as):
    form = "&".join(f"p{i}=1" for i in range(1001))
    response = api_as("marketing").post("/api/v1/customers/", form, content_type="application/x-www-form-urlencoded")
    assert _problem(response, 400)["code"] == "too_many_fields"
    assert not Customer.objects.exists()


# --- dates and times -------------------------------------------------------------------------------------------

BAD_MOMENTS = ["2026-03-01T00:00:00+18:30", "0001-01-01T00:00:00Z", "0001-01-01T00:00:00+18:30", "2201-01-01T00:00:00Z"]


@pytest.mark.parametrize("value", BAD_MOMENTS)
@pytest.mark.parametrize(
    "url, param",
    [
        ("/api/v1/orders/", "ordered_after"),
        ("/api/v1/orders/", "ordered_before"),
        ("/api/v1/complaints/", "opened_after"),
        ("/api/v1/nps-responses/", "answered_before"),
    ],
)
def test_time_filters_out_of_range_are_400_naming_the_filter(api_as, url, param, value):
    ComplaintFactory()
    NpsResponseFactory()
    problem = _problem(api_as("service").get(f"{url}?{param}={quote(value)}"), 400)
    assert _fields(problem) == {param}


@pytest.mark.parametrize("param", ["created_after", "closed_before"])
@pytest.mark.parametrize("value", ["0001-01-01", "9999-12-31", "2026-03-01T00:00:00+18:30"])
def test_lead_date_filters_out_of_range_are_400(api_as, param, value):
    LeadFactory()
    problem = _problem(api_as("sales").get(f"/api/v1/leads/?{param}={quote(value)}"), 400)
    assert _fields(problem) == {param.split("_")[0]}


def test_channel_spend_month_filter_out_of_range_is_400(api_as):
    assert _fields(_problem(api_as("sales").get("/api/v1/channel-spend/?month_from=0001-01-01"), 400)) == {"month_from"}


def test_filters_in_range_still_work(api_as):
    CustomerFactory()
    api = api_as("service")
    for url in [
        "/api/v1/orders/?ordered_after=" + quote("2026-03-01T00:00:00+14:00"),
        "/api/v1/orders/?ordered_before=" + quote("2026-03-01T00:00:00-12:00"),
        "/api/v1/complaints/?opened_after=1900-01-01T00:00:00Z",
        "/api/v1/nps-responses/?answered_before=2200-12-31T00:00:00Z",
        "/api/v1/leads/?created_after=2026-01-01&closed_before=2026-12-31",
    ]:
        assert api.get(url).status_code == 200, url


@pytest.mark.parametrize(
    "ordered_at, code",
    [
        ("0001-01-01T00:00:00+08:00", "year_out_of_range"),
        ("0001-01-02T00:00:00Z", "year_out_of_range"),
        ("1899-12-31T23:59:59Z", "year_out_of_range"),
        ("2201-01-01T00:00:00Z", "year_out_of_range"),
        ("2026-03-01T00:00:00+18:30", "offset_out_of_range"),
        ("2026-03-01T00:00:00+14:30", "offset_out_of_range"),
        ("2026-03-01T00:00:00+08:05:43", "offset_out_of_range"),
    ],
)
def test_order_times_out_of_range_are_400_naming_ordered_at(api_as, ordered_at, code):
    customer = CustomerFactory()
    body = {"customer": customer.pk, "amount": "10.00", "ordered_at": ordered_at}
    problem = _problem(api_as("sales").post("/api/v1/orders/", body, format="json"), 400)
    assert [(e["field"], e["code"]) for e in problem["errors"]] == [("ordered_at", code)]
    assert not Order.objects.exists()


def test_order_times_in_range_keep_their_instant(api_as):
    customer = CustomerFactory()
    body = {"customer": customer.pk, "amount": "10.00", "ordered_at": "2026-03-01T00:00:00-13:45"}
    response = api_as("sales").post("/api/v1/orders/", body, format="json")
    assert response.status_code == 201, response.content
    assert Order.objects.get().ordered_at == datetime.fromisoformat("2026-03-01T13:45:00+00:00")


def test_the_order_service_refuses_out_of_range_times_from_every_entry_point(api_as):
    customer = CustomerFactory()
    user = api_as("sales").user
    with pytest.raises(DomainError) as refused:
        customer_services.place_order(
            customer=customer, amount="1", ordered_at=datetime(1, 1, 1, tzinfo=timezone.get_fixed_timezone(0)), by=user
        )
    assert (refused.value.field, refused.value.code) == ("ordered_at", "year_out_of_range")
    assert moments.refusal(datetime(2026, 1, 1, tzinfo=timezone.get_fixed_timezone(14 * 60))) is None


# --- ids, names, text ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("customer", [1.5, "1.5", True, "abc", -1, 2**70, [1], {"id": 1}])
def test_a_customer_id_that_is_not_an_integer_is_400_naming_customer(api_as, customer):
    CustomerFactory(pk=1)
    api = api_as("sales_manager")
    bodies = {
        "/api/v1/orders/": {"customer": customer, "amount": "1.00", "ordered_at": "2026-03-01T00:00:00Z"},
        "/api/v1/leads/": {"customer": customer, "source_channel": ChannelFactory().code},
    }
    for url, body in bodies.items():
        problem = _problem(api.post(url, body, format="json"), 400)
        assert _fields(problem) == {"customer"}, url
    service = api_as("service")
    for url, body in {
        "/api/v1/complaints/": {"customer": customer, "category": "product", "description": "Broken"},
        "/api/v1/nps-responses/": {"customer": customer, "score": 3},
    }.items():
        assert _fields(_problem(service.post(url, body, format="json"), 400)) == {"customer"}, url
    assert not (Order.objects.exists() or Lead.objects.exists() or Complaint.objects.exists())
    assert not NpsResponse.objects.exists()


def test_an_id_given_as_digits_still_works(api_as):
    customer = CustomerFactory()
    body = {"customer": str(customer.pk), "amount": "1.00", "ordered_at": "2026-03-01T00:00:00Z"}
    assert api_as("sales").post("/api/v1/orders/", body, format="json").status_code == 201


@pytest.mark.parametrize("value", ["1.5", "abc", "99999999999999999999999"])
def test_an_id_filter_that_is_not_an_integer_is_400(api_as, value):
    assert _fields(_problem(api_as("sales").get(f"/api/v1/leads/?customer={value}"), 400)) == {"customer"}


@pytest.mark.parametrize("name", [123, 1.5, True, ["Li"], {"first": "Li"}])
def test_names_must_be_strings(api_as, name):
    marketing = api_as("marketing")
    assert _fields(_problem(marketing.post("/api/v1/customers/", {"name": name}, format="json"), 400)) == {"name"}
    lead = {"contact": {"name": name, "phone": "13912345678"}, "source_channel": ChannelFactory().code}
    assert _fields(_problem(marketing.post("/api/v1/leads/", lead, format="json"), 400)) == {"contact.name"}
    channel = {"code": "weibo", "name": name}
    assert _fields(_problem(marketing.post("/api/v1/channels/", channel, format="json"), 400)) == {"name"}
    assert not (Customer.objects.exists() or Lead.objects.exists())


@pytest.mark.parametrize("size", [LONG_TEXT + 1, 9 * 2**20])
def test_a_lead_note_over_its_maximum_is_400_naming_note(api_as, size):
    body = {"contact": {"name": "Li", "phone": "13912345678"}, "note": "x" * size}
    problem = _problem(api_as("marketing").post("/api/v1/leads/", body, format="json"), 400)
    assert [(e["field"], e["code"]) for e in problem["errors"]] == [("note", "max_length")]
    assert not Lead.objects.exists()


def test_free_text_maximums_are_in_the_schema(api_as):
    schema = api_as("sales").get("/api/schema/", {"format": "json"}).json()["components"]["schemas"]
    assert schema["LeadCreateInputRequest"]["properties"]["note"]["maxLength"] == LONG_TEXT
    assert schema["ActivityInputRequest"]["properties"]["body"]["maxLength"] == LONG_TEXT
    assert schema["ComplaintInputRequest"]["properties"]["description"]["maxLength"] == LONG_TEXT
    assert schema["NpsResponseInputRequest"]["properties"]["comment"]["maxLength"] == LONG_TEXT
    assert schema["CustomerInputRequest"]["properties"]["name"]["maxLength"] == 200
    assert "10 MB" in api_as("sales").get("/api/schema/", {"format": "json"}).json()["info"]["description"]


def test_negative_money_is_refused_where_money_cannot_be_negative(api_as):
    customer = CustomerFactory()
    order = {"customer": customer.pk, "amount": "-1.00", "ordered_at": "2026-03-01T00:00:00Z"}
    assert _fields(_problem(api_as("sales").post("/api/v1/orders/", order, format="json"), 400)) == {"amount"}
    spend = {"channel": ChannelFactory().code, "month": "2026-03", "amount": "-5"}
    assert _fields(_problem(api_as("marketing").post("/api/v1/channel-spend/", spend, format="json"), 400)) == {
        "amount"
    }


# --- URLs and cursors ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/imports/abc/errors.csv/",
        "/api/v1/imports/99999999999999999999999/errors.csv/",
        "/api/v1/imports/1.5/",
        "/api/v1/leads/abc/history/",
    ],
)
def test_an_id_in_the_url_that_is_not_an_integer_is_a_404_problem(api_as, url):
    assert _problem(api_as("marketing").get(url), 404)["code"] == "not_found"


def _cursor(query: str) -> str:
    return quote(base64.b64encode(query.encode()).decode())


@pytest.mark.parametrize("cursor", ["garbage", "%E4%B8%AD", _cursor("o=0&r=0&p=abc"), _cursor("o=x")])
def test_a_cursor_relay_did_not_hand_out_is_400_naming_cursor(api_as, cursor):
    CustomerFactory()
    problem = _problem(api_as("sales").get(f"/api/v1/customers/?cursor={cursor}"), 400)
    assert _fields(problem) == {"cursor"}


def test_a_cursor_on_a_time_ordering_is_checked_too(api_as):
    lead = LeadFactory()
    url = f"/api/v1/leads/{lead.pk}/history/?cursor={_cursor('o=0&r=0&p=not-a-time')}"
    assert _fields(_problem(api_as("sales").get(url), 400)) == {"cursor"}


def test_cursors_relay_hands_out_still_page(api_as):
    CustomerFactory.create_batch(3)
    api = api_as("sales")
    first = api.get("/api/v1/customers/", {"page_size": 2}).json()
    second = api.get(first["next"])
    assert second.status_code == 200 and len(second.json()["results"]) == 1


def test_metric_periods_out_of_range_are_400_on_the_api_and_the_report_page(api_as, client_as):
    url = "/api/v1/metrics/lead_quality_score/"
    problem = _problem(api_as("sales").get(url, {"start": "0001-01-01", "end": "2026-01-01"}), 400)
    assert [(e["field"], e["code"]) for e in problem["errors"]] == [("start", "year_out_of_range")]
    page = client_as("sales").get(reverse("okr:report-funnel"), {"start": "0001-01-01", "end": "0001-02-01"})
    assert page.status_code == 400 and "Use a year from 1900 to 2200." in page.content.decode()


def test_imported_order_times_out_of_range_are_row_errors(
    api_as, django_capture_on_commit_callbacks, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    CustomerIdentityFactory(kind="phone", value="+8613900000001")
    text = "phone,amount,ordered_at\n13900000001,10,0001-01-01\n13900000001,10,2026-03-01 10:00\n"
    upload = SimpleUploadedFile("orders.csv", text.encode(), content_type="text/csv")
    api = api_as("sales")
    with django_capture_on_commit_callbacks(execute=True):
        job = api.post("/api/v1/imports/", {"kind": "orders", "file": upload, "dry_run": False}, format="multipart")
    body = api.get(f"/api/v1/imports/{job.json()['id']}/").json()
    assert [(e["row"], e["column"]) for e in body["errors"]] == [(2, "ordered_at")]
    assert Order.objects.count() == 1


def test_pages_hold_free_text_to_the_same_maximum(client_as):
    form = {"name": "Li", "phone": "13912345678", "note": "x" * (LONG_TEXT + 1)}
    response = client_as("marketing").post(reverse("leads:lead-create"), form)
    assert response.status_code == 422 and not Lead.objects.exists()
    form["note"] = "x" * LONG_TEXT
    assert client_as("marketing").post(reverse("leads:lead-create"), form).status_code == 302
    assert len(Lead.objects.get().note) == LONG_TEXT
