"""Lists and reads of one record are built from `.values()` rows (config.api.rows); each must equal what the
output serializer renders from the model instance."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.renderers import JSONRenderer

from config.api.concurrency import etag_for
from customers.api.serializers import CustomerOutput, OrderOutput
from customers.models import Customer, Order
from feedback.api.serializers import ComplaintOutput
from feedback.models import Complaint
from leads import selectors
from leads.api.serializers import LeadOutput
from leads.stages import Stage
from tests.factories import (
    CampaignFactory,
    ComplaintFactory,
    CustomerFactory,
    CustomerIdentityFactory,
    LeadFactory,
    OrderFactory,
    TagFactory,
    make_user,
)

pytestmark = pytest.mark.django_db


def _list_equals_details(api, path: str, expected_count: int, serializer, queryset) -> None:
    body = api.get(path, {"page_size": 200}).json()
    assert len(body["results"]) == expected_count
    for item in body["results"]:
        one = api.get(f"{path}{item['id']}/")
        rendered = json.loads(JSONRenderer().render(serializer(queryset.get(pk=item["id"])).data))
        assert item == one.json() == rendered
        assert one["ETag"] == etag_for(queryset.get(pk=item["id"]))


def test_lead_list_items_equal_lead_answers(api_as, settings):
    settings.TIME_ZONE = "Asia/Shanghai"  # times are shown with the site's offset, as the serializer does
    seller = make_user("sales")
    now = timezone.now()
    won = LeadFactory(
        stage=Stage.WON,
        owner=seller,
        campaign=CampaignFactory(),
        won_amount=Decimal("12345.50"),
        handed_off_at=now - timedelta(days=9, microseconds=17),
        first_handed_off_at=now - timedelta(days=9),
        accepted_at=now - timedelta(days=8),
        contacted_at=now - timedelta(days=7),
        closed_at=now,
        is_high_intent=True,
        lost_reason_text="",
        note="多行\nnote",
    )
    won.tags.set([TagFactory(name="vip"), TagFactory(name="2026 expo")])
    LeadFactory(stage=Stage.NEW, source_channel=None)
    LeadFactory(stage=Stage.NEW, reject_reason="duplicate", reject_reason_text="seen before")

    _list_equals_details(api_as("sales_manager"), "/api/v1/leads/", 3, LeadOutput, selectors.lead_rows())


def test_customer_list_items_equal_customer_answers(api_as):
    rich = CustomerFactory(rfm_r=5, rfm_f=4, rfm_m=3, rfm_segment="champions", rfm_monetary=Decimal("99.5"))
    CustomerIdentityFactory(customer=rich, kind="email", value="b@example.com")
    CustomerIdentityFactory(customer=rich, kind="email", value="a@example.com")
    CustomerIdentityFactory(customer=rich)
    CustomerFactory(name="无身份")

    _list_equals_details(api_as("sales_manager"), "/api/v1/customers/", 2, CustomerOutput, Customer.objects.all())


def test_order_and_complaint_list_items_equal_their_answers(api_as):
    order = OrderFactory(amount=Decimal("10.10"))
    OrderFactory(channel=None)
    ComplaintFactory(customer=order.customer, order=order, waiting_since=timezone.now())
    ComplaintFactory()
    api = api_as("service_manager")

    _list_equals_details(api, "/api/v1/orders/", 2, OrderOutput, Order.objects.all())
    _list_equals_details(api, "/api/v1/complaints/", 2, ComplaintOutput, Complaint.objects.all())


def test_a_malformed_or_unknown_id_is_not_found(api_as):
    api = api_as("sales_manager")
    assert api.get("/api/v1/leads/999999/").status_code == 404
    assert api.get("/api/v1/customers/999999/").status_code == 404
