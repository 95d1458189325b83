from datetime import datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from feedback import services
from feedback.models import Complaint, ComplaintStatus
from tests.factories import ChannelFactory, CustomerFactory, CustomerIdentityFactory, OrderFactory, make_user

pytestmark = pytest.mark.django_db


def _complaint(owner=None, severity="medium", now=None, **kwargs):
    owner = owner or make_user("service")
    return services.create_complaint(
        by=owner,
        owner=owner,
        customer=kwargs.pop("customer", None) or CustomerFactory(),
        category="product",
        severity=severity,
        description="Broken on arrival.",
        now=now,
        **kwargs,
    )


def test_log_complaint_on_the_page_records_history_and_due_times(client_as):
    client = client_as("service")
    customer = CustomerFactory()
    channel = ChannelFactory(code="phone")
    order = OrderFactory(customer=customer)
    response = client.post(
        reverse("feedback:complaint-create"),
        {
            "customer": customer.pk,
            "category": "delivery",
            "severity": "high",
            "channel": "phone",
            "owner": client.user.pk,
            "order": order.pk,
            "description": "Parcel arrived crushed.",
        },
    )
    complaint = Complaint.objects.get()
    assert response.status_code == 302
    assert (complaint.status, complaint.channel, complaint.order, complaint.owner) == (
        "open",
        channel,
        order,
        client.user,
    )
    assert complaint.first_response_due_at == complaint.opened_at + timedelta(hours=8)
    assert complaint.resolution_due_at == complaint.opened_at + timedelta(hours=24)
    change = complaint.status_changes.get()
    assert (change.from_status, change.to_status, change.by) == ("", "open", client.user)
    page = client.get(reverse("feedback:complaint-detail", args=[complaint.pk]))
    assert page.status_code == 200
    assert "Parcel arrived crushed." in page.content.decode()


def test_complaint_form_names_the_missing_customer_and_an_order_of_someone_else(client_as):
    client = client_as("service")
    response = client.post(reverse("feedback:complaint-create"), {"category": "product", "description": "x"})
    assert response.status_code == 422
    assert 'data-field="customer"' in response.content.decode()
    other_order = OrderFactory()
    response = client.post(
        reverse("feedback:complaint-create"),
        {
            "customer": CustomerFactory().pk,
            "category": "product",
            "severity": "low",
            "order": other_order.pk,
            "description": "x",
        },
    )
    assert response.status_code == 422
    assert 'data-field="order"' in response.content.decode()
    assert not Complaint.objects.exists()


def test_customer_picker_finds_by_phone_email_and_name(client_as):
    client = client_as("service")
    customer = CustomerFactory(name="Wang Fang")
    CustomerIdentityFactory(customer=customer, kind="phone", value="+8613812345678")
    CustomerIdentityFactory(customer=customer, kind="email", value="fang@example.com")
    for q in ["138 1234 5678", "FANG@example.com", "wang"]:
        response = client.get(reverse("feedback:customer-search"), {"q": q}, HTTP_HX_REQUEST="true")
        assert f'value="{customer.pk}"' in response.content.decode(), q


def test_workflow_through_the_api_allowed_and_refused(api_as):
    api = api_as("service")
    complaint = _complaint(owner=api.user)
    url = f"/api/v1/complaints/{complaint.pk}/transition/"

    refused = api.post(url, {"status": "closed"}, format="json")
    assert (refused.status_code, refused.json()["code"]) == (409, "invalid_transition")
    assert refused.json()["errors"][0]["field"] == "status"
    assert Complaint.objects.get().status == "open"

    assert api.post(url, {"status": "in_progress"}, format="json").json()["status"] == "in_progress"
    missing = api.post(url, {"status": "resolved", "resolution": "  "}, format="json")
    assert missing.status_code == 400
    assert missing.json()["errors"][0]["field"] == "resolution"
    assert Complaint.objects.get().status == "in_progress"

    resolved = api.post(url, {"status": "resolved", "resolution": "Replaced the unit."}, format="json")
    assert resolved.json()["status"] == "resolved"
    assert resolved.json()["resolution"] == "Replaced the unit."
    assert api.post(url, {"status": "in_progress"}, format="json").status_code == 409
    assert api.post(url, {"status": "closed"}, format="json").json()["status"] == "closed"
    reopened = api.post(url, {"status": "open"}, format="json").json()
    assert (reopened["status"], reopened["resolved_at"], reopened["closed_at"]) == ("open", None, None)

    history = api.get(f"/api/v1/complaints/{complaint.pk}/history/").json()
    assert [(h["from_status"], h["to_status"]) for h in history] == [
        ("", "open"),
        ("open", "in_progress"),
        ("in_progress", "resolved"),
        ("resolved", "closed"),
        ("closed", "open"),
    ]
    assert all(h["by"] == api.user.pk for h in history)


def test_transition_on_the_page_with_htmx_swaps_the_panel(client_as):
    client = client_as("service")
    complaint = _complaint(owner=client.user)
    url = reverse("feedback:complaint-transition", args=[complaint.pk])
    response = client.post(url, {"status": "in_progress"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert 'id="complaint-panel"' in response.content.decode()
    assert "<html" not in response.content.decode()
    assert response["Vary"].count("HX-Request") == 1
    refused = client.post(url, {"status": "resolved"}, HTTP_HX_REQUEST="true")
    assert refused.status_code == 422
    assert 'data-field="resolution"' in refused.content.decode()
    assert Complaint.objects.get().status == "in_progress"


def test_sla_due_times_per_severity_in_plain_hours(db):
    opened = timezone.make_aware(datetime(2025, 3, 7, 17, 0))  # a Friday
    complaint = _complaint(severity="critical", now=opened)
    assert complaint.first_response_due_at == opened + timedelta(hours=2)
    assert complaint.resolution_due_at == opened + timedelta(hours=8)


def test_sla_due_times_count_business_hours_and_skip_weekends_and_holidays(settings):
    settings.RELAY_WORKING_HOURS = "09:00-18:00"
    settings.RELAY_WORKING_DAYS = ["0", "1", "2", "3", "4"]
    settings.RELAY_HOLIDAYS = ["2025-03-10"]  # the Monday
    opened = timezone.make_aware(datetime(2025, 3, 7, 17, 0))  # Friday 17:00, one working hour left
    complaint = _complaint(severity="critical", now=opened)  # 2 h / 8 h
    assert complaint.first_response_due_at == timezone.make_aware(datetime(2025, 3, 11, 10, 0))
    # 1 h on Friday, 7 h on Tuesday from 09:00
    assert complaint.resolution_due_at == timezone.make_aware(datetime(2025, 3, 11, 16, 0))

    night = timezone.make_aware(datetime(2025, 3, 11, 22, 30))  # after hours: the clock starts next morning
    assert _complaint(severity="critical", now=night).first_response_due_at == timezone.make_aware(
        datetime(2025, 3, 12, 11, 0)
    )


def test_waiting_on_customer_pauses_the_clock_and_extends_the_due_time(api_as):
    api = api_as("service")
    opened = timezone.now() - timedelta(hours=10)
    complaint = _complaint(owner=api.user, severity="medium", now=opened)  # resolution due opened + 72 h
    services.set_waiting_on_customer(
        complaint=complaint, by=api.user, waiting=True, note="Asked for photos", now=opened + timedelta(hours=2)
    )
    paused = Complaint.objects.get()
    assert paused.is_waiting_on_customer and paused.first_response_at == opened + timedelta(hours=2)
    # while paused, no breach is possible: the SLA scan ignores it
    assert services.check_service_slas(now=opened + timedelta(days=10))["resolution"] == 0

    again = api.post(f"/api/v1/complaints/{complaint.pk}/waiting-on-customer/", {"waiting": True}, format="json")
    assert (again.status_code, again.json()["errors"][0]["field"]) == (409, "waiting_on_customer")

    services.set_waiting_on_customer(complaint=complaint, by=api.user, waiting=False, now=opened + timedelta(hours=7))
    resumed = Complaint.objects.get()
    assert not resumed.is_waiting_on_customer
    assert resumed.paused_seconds == 5 * 3600
    assert resumed.resolution_due_at == opened + timedelta(hours=72 + 5)
    kinds = list(resumed.status_changes.values_list("kind", flat=True))
    assert kinds == ["status", "pause", "resume"]


def test_pause_in_business_hours_extends_by_working_time_only(settings):
    settings.RELAY_WORKING_HOURS = "09:00-18:00"
    settings.RELAY_WORKING_DAYS = ["0", "1", "2", "3", "4"]
    settings.RELAY_HOLIDAYS = []
    owner = make_user("service")
    opened = timezone.make_aware(datetime(2025, 3, 7, 9, 0))  # Friday
    complaint = _complaint(owner=owner, severity="high", now=opened)  # resolution 24 working hours
    assert complaint.resolution_due_at == timezone.make_aware(datetime(2025, 3, 11, 15, 0))
    services.set_waiting_on_customer(
        complaint=complaint, by=owner, waiting=True, now=timezone.make_aware(datetime(2025, 3, 7, 16, 0))
    )
    # resumes Monday 10:00: 2 h Friday + 1 h Monday of working time paused; the weekend does not count
    services.set_waiting_on_customer(
        complaint=complaint, by=owner, waiting=False, now=timezone.make_aware(datetime(2025, 3, 10, 10, 0))
    )
    assert Complaint.objects.get().resolution_due_at == timezone.make_aware(datetime(2025, 3, 11, 18, 0))


def test_list_filters_and_search(client_as):
    client = client_as("service")
    mine = _complaint(owner=client.user, severity="high")
    other = _complaint(severity="low")
    overdue = _complaint(now=timezone.now() - timedelta(days=5))
    url = reverse("feedback:complaint-list")

    def ids(params):
        return {c.pk for c in client.get(url, params).context["page"]}

    assert ids({"severity": "high"}) == {mine.pk}
    assert ids({"owner": client.user.pk}) == {mine.pk}
    assert ids({"overdue": "true"}) == {overdue.pk}
    assert ids({"q": other.customer.name}) == {other.pk}
    CustomerIdentityFactory(customer=other.customer, kind="phone", value="+8613800138000")
    CustomerIdentityFactory(customer=overdue.customer, kind="email", value="wang@example.com")
    assert ids({"q": "138 0013 8000"}) == {other.pk}
    assert ids({"q": "Wang@Example.com"}) == {overdue.pk}
    services.transition_complaint(complaint=mine, by=client.user, status="in_progress")
    assert ids({"status": "in_progress"}) == {mine.pk}
    api = client.get("/api/v1/complaints/", {"severity": "high"}).json()
    assert [c["id"] for c in api["results"]] == [mine.pk]


def test_my_complaints_lists_only_my_active_ones(client_as):
    client = client_as("service")
    mine = _complaint(owner=client.user)
    _complaint()
    response = client.get(reverse("feedback:my-complaints"))
    assert [c.pk for c in response.context["page"]] == [mine.pk]


@pytest.mark.parametrize("n", [1, 25])
def test_complaint_list_queries_do_not_grow(client_as, api_as, django_assert_max_num_queries, n):
    owner = make_user("service")
    for _ in range(n):
        _complaint(owner=owner, channel=ChannelFactory())
    client = client_as("service")
    with django_assert_max_num_queries(10):  # session, user, groups, unread, 2 perms, owners, rows (keyset: no COUNT)
        assert client.get(reverse("feedback:complaint-list")).status_code == 200
    with django_assert_max_num_queries(10):  # session, user, groups, unread, 2 perms, owners, rows (keyset: no COUNT)
        assert client.get(reverse("feedback:my-complaints")).status_code == 200
    api = api_as("service")
    with django_assert_max_num_queries(4):
        assert len(api.get("/api/v1/complaints/").json()["results"]) == n


def test_complaint_detail_queries_do_not_grow_with_history(client_as, django_assert_max_num_queries):
    client = client_as("service")
    complaint = _complaint(owner=client.user)
    for waiting in [True, False] * 10:
        services.set_waiting_on_customer(complaint=complaint, by=client.user, waiting=waiting)
    with django_assert_max_num_queries(10):
        assert client.get(reverse("feedback:complaint-detail", args=[complaint.pk])).status_code == 200


def test_api_create_and_edit(api_as):
    api = api_as("service")
    customer = CustomerFactory()
    ChannelFactory(code="wechat")
    created = api.post(
        "/api/v1/complaints/",
        {
            "customer": customer.pk,
            "category": "price",
            "severity": "low",
            "channel": "wechat",
            "description": "Too dear",
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert (body["status"], body["channel"], body["customer"]) == ("open", "wechat", customer.pk)
    bad = api.post("/api/v1/complaints/", {"customer": customer.pk, "category": "nope"}, format="json")
    assert bad.status_code == 400
    assert {e["field"] for e in bad.json()["errors"]} == {"category", "description"}
    etag = api.get(f"/api/v1/complaints/{body['id']}/")["ETag"]
    edited = api.patch(f"/api/v1/complaints/{body['id']}/", {"severity": "critical"}, format="json", HTTP_IF_MATCH=etag)
    assert edited.json()["severity"] == "critical"
    stale = api.patch(f"/api/v1/complaints/{body['id']}/", {"severity": "low"}, format="json", HTTP_IF_MATCH=etag)
    assert stale.status_code == 412
    status_write = api.patch(f"/api/v1/complaints/{body['id']}/", {"status": "closed"}, format="json")
    assert Complaint.objects.get().status == ComplaintStatus.OPEN
    assert status_write.status_code == 200
