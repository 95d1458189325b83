"""One writer per rule: the same edit by the same role gets the same answer through the API, the admin and a CSV
import (allowed, or refused for the same reason), and an imported lead has the history a created one has."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from customers.models import Order
from leads.models import Lead, LeadStageChange
from tests.factories import ChannelFactory, CustomerFactory, CustomerIdentityFactory

pytestmark = pytest.mark.django_db

ROLES = ["marketing", "sales", "service", "marketing_manager", "sales_manager", "service_manager", "admin"]


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def _import(api, kind: str, text: str, capture):
    upload = SimpleUploadedFile("rows.csv", text.encode(), content_type="text/csv")
    with capture(execute=True):
        response = api.post("/api/v1/imports/", {"kind": kind, "file": upload, "dry_run": False}, format="multipart")
    return response


def _outcome(status: int) -> str:
    if status in (200, 201, 202, 302):
        return "allowed"
    if status == 403:
        return "forbidden"
    return f"refused {status}"


@pytest.mark.parametrize("role", ROLES)
def test_creating_an_order(role, api_as, client_as, django_capture_on_commit_callbacks):
    channel = ChannelFactory(code="tmall")
    customer = CustomerFactory()
    CustomerIdentityFactory(customer=customer, kind="phone", value="+8613600000009")
    api = api_as(role)
    order = {"customer": customer.pk, "amount": "88.00", "ordered_at": "2026-03-02T10:00:00+08:00"}
    through_api = api.post("/api/v1/orders/", {**order, "channel": "tmall", "external_id": "A-1"}, format="json")
    admin = client_as(user=api.user).post(
        reverse("admin:customers_order_add"),
        {
            "customer": customer.pk,
            "amount": "88.00",
            "ordered_at_0": "2026-03-02",
            "ordered_at_1": "10:00:00",
            "channel": channel.pk,
            "external_id": "B-1",
            "lines-TOTAL_FORMS": "0",  # the order's lines inline, as the admin page posts them
            "lines-INITIAL_FORMS": "0",
        },
    )
    csv = _import(
        api,
        "orders",
        "phone,name,amount,ordered_at,channel,external_id\n13600000009,Buyer,88,2026-03-02,tmall,C-1\n",
        django_capture_on_commit_callbacks,
    )
    outcomes = {_outcome(r.status_code) for r in (through_api, admin, csv)}
    assert len(outcomes) == 1, (role, through_api.status_code, admin.status_code, csv.status_code)
    made = set(Order.objects.values_list("external_id", flat=True))
    assert made == ({"A-1", "B-1", "C-1"} if outcomes == {"allowed"} else set())


@pytest.mark.parametrize("role", ROLES)
def test_creating_a_lead(role, api_as, client_as, django_capture_on_commit_callbacks):
    wechat = ChannelFactory(code="wechat")
    api = api_as(role)
    payload = {"contact": {"name": "Li Lei", "phone": "13800000011"}, "source_channel": "wechat"}
    through_api = api.post("/api/v1/leads/", payload, format="json")
    page = client_as(user=api.user).post(
        reverse("leads:lead-create"), {"name": "Han Meimei", "phone": "13800000012", "source_channel": wechat.pk}
    )
    csv = _import(
        api,
        "leads",
        "name,phone,channel,interest\nLin Tao,13800000013,wechat,Demo\n",
        django_capture_on_commit_callbacks,
    )
    outcomes = {_outcome(r.status_code) for r in (through_api, page, csv)}
    assert len(outcomes) == 1, (role, through_api.status_code, page.status_code, csv.status_code)
    if outcomes == {"allowed"}:
        assert Lead.objects.count() == 3
        # Every lead, however it came in, starts its history with "" → new: time in `new` counts for all.
        firsts = LeadStageChange.objects.filter(from_stage="", to_stage="new")
        assert sorted(firsts.values_list("lead_id", flat=True)) == sorted(Lead.objects.values_list("pk", flat=True))
    else:
        assert not Lead.objects.exists()


@pytest.mark.parametrize("role", ROLES)
def test_creating_a_customer(role, api_as, client_as, django_capture_on_commit_callbacks):
    api = api_as(role)
    through_api = api.post(
        "/api/v1/customers/", {"name": "Zhang Wei", "identities": [{"kind": "phone", "value": "13900000001"}]}
    )
    admin = client_as(user=api.user).post(
        reverse("admin:customers_customer_add"),
        {
            "name": "Wang Fang",
            "company": "",
            "city": "",
            "language": "zh-hans",
            "source_channel": "",
            "identities-TOTAL_FORMS": "1",
            "identities-INITIAL_FORMS": "0",
            "identities-MIN_NUM_FORMS": "0",
            "identities-MAX_NUM_FORMS": "1000",
            "identities-0-kind": "phone",
            "identities-0-value": "13900000002",
            "identities-0-source_system": "",
            "team_members-TOTAL_FORMS": "0",  # the account team inline
            "team_members-INITIAL_FORMS": "0",
        },
    )
    csv = _import(api, "customers", "name,phone\nLiu Yang,13900000003\n", django_capture_on_commit_callbacks)
    outcomes = {_outcome(r.status_code) for r in (through_api, admin, csv)}
    assert len(outcomes) == 1, (role, through_api.status_code, admin.status_code, csv.status_code)
