"""The audit log (config/audit.py): who changed which record, when, through which entry point, each field's old and
new value; read by the record's department's managers and admins, through the API, a page and the admin."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from config import audit, webhooks
from config.models import WebhookEndpoint
from customers.models import Customer
from feedback import services as feedback_services
from leads import services as lead_services
from leads.models import Lead
from leads.stages import Stage
from okr.models import Objective
from tests.conftest import ROLES
from tests.factories import (
    ComplaintFactory,
    CustomerFactory,
    CustomerIdentityFactory,
    ObjectiveFactory,
    lead_through,
    make_user,
)

pytestmark = pytest.mark.django_db


def _log(label: str, pk: int, role: str = "admin") -> list[dict]:
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(make_user(role))
    response = api.get("/api/v1/audit/", {"object": f"{label}:{pk}"})
    assert response.status_code == 200, response.content
    return response.json()["results"]


def _change(entry: dict, field: str) -> dict:
    return next(c for c in entry["changes"] if c["field"] == field)


# --- who, when, through which entry point, old and new values ---------------------------------------------------


def test_a_customer_renamed_on_its_page_records_the_web_the_person_and_both_names(client_as):
    customer = CustomerIdentityFactory(kind="phone", value="+8613800000001", customer__name="Old Name").customer
    client = client_as("marketing")
    response = client.post(
        reverse("customers:customer-edit", args=[customer.pk]),
        {"name": "New Name", "company": customer.company, "city": customer.city, "phone": "13800000001"},
    )
    assert response.status_code == 302
    newest = _log("customers.customer", customer.pk)[0]
    assert (newest["action"], newest["entry_point"]) == ("change", "web")
    assert newest["by"] == {"id": client.user.pk, "name": client.user.get_full_name()}
    assert _change(newest, "name") == {"field": "name", "old": "Old Name", "new": "New Name"}
    assert [c["field"] for c in newest["changes"]] == ["name"]  # updated_at is the version's own time


def test_the_same_change_through_the_api_records_the_api(api_as):
    customer = CustomerFactory(name="Old Name")
    api = api_as("sales")
    assert api.patch(f"/api/v1/customers/{customer.pk}/", {"name": "New Name"}, format="json").status_code == 200
    newest = _log("customers.customer", customer.pk)[0]
    assert (newest["entry_point"], newest["by"]["id"]) == ("api", api.user.pk)
    assert _change(newest, "name") == {"field": "name", "old": "Old Name", "new": "New Name"}


def test_the_same_change_in_the_admin_records_the_admin(client_as):
    customer = CustomerFactory(name="Old Name", company="", city="Suzhou")
    client = client_as("admin")
    url = reverse("admin:customers_customer_change", args=[customer.pk])
    data = {"name": "New Name", "company": "", "city": "Suzhou", "language": "", "source_channel": ""}
    for inline in client.get(url).context["inline_admin_formsets"]:  # the customer has no rows in any of them
        prefix = inline.formset.prefix
        data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0", f"{prefix}-MAX_NUM_FORMS": "1000"})
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    newest = _log("customers.customer", customer.pk)[0]
    assert (newest["entry_point"], newest["by"]["id"]) == ("admin", client.user.pk)
    assert _change(newest, "name")["new"] == "New Name"


def test_creation_lists_the_values_it_set_and_deletion_is_kept_after_the_record_is_gone(api_as):
    objective = ObjectiveFactory(title="Grow", department="sales")
    pk = objective.pk
    objective.delete()
    log = _log("okr.objective", pk)
    assert [e["action"] for e in log] == ["delete", "create"]
    assert _change(log[1], "title") == {"field": "title", "old": None, "new": "Grow"}
    assert _change(log[0], "title") == {"field": "title", "old": "Grow", "new": None}
    assert log[0]["entry_point"] == "system" and log[0]["by"] is None  # no request, no task: the shell, a command


def test_a_complaint_severity_change_through_the_service_and_the_api(api_as):
    complaint = ComplaintFactory(severity="medium")
    manager = make_user("service_manager")
    feedback_services.update_complaint(complaint=complaint, by=manager, severity="high")
    api = api_as("service")
    response = api.patch(f"/api/v1/complaints/{complaint.pk}/", {"severity": "critical"}, format="json")
    assert response.status_code == 200, response.content
    by_api, by_service = _log("feedback.complaint", complaint.pk)[:2]
    assert _change(by_service, "severity") == {"field": "severity", "old": "medium", "new": "high"}
    assert by_service["entry_point"] == "system"
    assert _change(by_api, "severity") == {"field": "severity", "old": "high", "new": "critical"}
    assert (by_api["entry_point"], by_api["by"]["id"]) == ("api", api.user.pk)
    # The due times the severity moved are changes too, as ISO 8601 with the offset.
    assert _change(by_api, "resolution_due_at")["new"].endswith("+08:00")


def test_a_task_records_the_task_entry_point_and_no_person(settings):
    from leads.tasks import recycle_stale_leads

    settings.RELAY_LEAD_RECYCLE_DAYS = 0
    lead = lead_through(Stage.CONTACTED)
    Lead.objects.filter(pk=lead.pk).update(last_activity_at=lead.accepted_at)
    recycle_stale_leads.apply()
    newest = _log("leads.lead", lead.pk)[0]
    assert (newest["entry_point"], newest["by"]) == ("task", None)
    assert _change(newest, "stage") == {"field": "stage", "old": "contacted", "new": "handed_off"}


def test_acting_names_the_entry_point_and_person_for_the_block():
    person = make_user("marketing")
    with audit.acting(audit.EntryPoint.IMPORT, user=person):
        customer = CustomerFactory()
    assert audit.current_entry_point() == "system"
    (created,) = _log("customers.customer", customer.pk)
    assert (created["entry_point"], created["by"]["id"]) == ("import", person.pk)


def test_a_webhook_endpoint_history_never_stores_its_secret(api_as):
    admin = make_user("admin")
    api = api_as(user=admin)
    with audit.acting(audit.EntryPoint.WEB, user=admin):
        endpoint = WebhookEndpoint.objects.create(url="https://hooks.example.com/a", secret=webhooks.new_secret())
    first_secret = endpoint.secret
    rotated = api.post(f"/api/v1/webhooks/{endpoint.pk}/rotate-secret/")
    assert rotated.status_code == 200
    new_secret = rotated.json()["secret"]
    assert api.patch(f"/api/v1/webhooks/{endpoint.pk}/", {"description": "CRM"}, format="json").status_code == 200
    history = WebhookEndpoint.history.model
    assert not {"secret", "previous_secret"} & {f.name for f in history._meta.get_fields()}
    stored = repr(list(history.objects.filter(id=endpoint.pk).values()))
    assert first_secret not in stored and new_secret not in stored
    log = _log("config.webhookendpoint", endpoint.pk)
    assert [e["action"] for e in log] == ["change", "change", "create"]
    assert [c["field"] for c in log[1]["changes"]] == ["previous_secret_expires_at"]  # the rotation
    assert _change(log[0], "description") == {"field": "description", "old": "", "new": "CRM"}
    assert first_secret not in str(log) and new_secret not in str(log)


# --- written in the service's transaction ---------------------------------------------------------------------


def test_a_service_that_refuses_after_its_save_leaves_no_history_row(api_as):
    CustomerIdentityFactory(kind="phone", value="+8613800000099")
    customer = CustomerFactory(name="Before")
    versions = customer.history.count()
    api = api_as("sales")
    response = api.patch(
        f"/api/v1/customers/{customer.pk}/",
        {"name": "After", "identities": [{"kind": "phone", "value": "+8613800000099"}]},
        format="json",
    )
    # update_customer saved the new name, then found the identity taken: everything rolled back, history too.
    assert (response.status_code, response.json()["errors"][0]["field"]) == (409, "identities[0].value")
    assert Customer.objects.get(pk=customer.pk).name == "Before"
    assert customer.history.count() == versions


def test_a_merge_records_the_rows_it_moves(api_as):
    survivor, duplicate = CustomerFactory(), CustomerFactory()
    lead = lead_through(Stage.NEW, customer=duplicate)
    api = api_as("sales_manager")
    response = api.post(f"/api/v1/customers/{survivor.pk}/merge/", {"duplicate": duplicate.pk}, format="json")
    assert response.status_code in (200, 201), response.content
    newest = _log("leads.lead", lead.pk)[0]
    assert (newest["entry_point"], newest["reason"], newest["by"]["id"]) == ("api", "merge", api.user.pk)
    assert _change(newest, "customer") == {"field": "customer", "old": duplicate.pk, "new": survivor.pk}
    identity = duplicate.identities.first() or CustomerIdentityFactory(customer=survivor)
    assert _log("customers.customeridentity", identity.pk)


def test_identities_attached_by_a_service_are_recorded(api_as):
    api = api_as("marketing")
    response = api.post(
        "/api/v1/customers/",
        {"name": "Li Na", "identities": [{"kind": "phone", "value": "13800000077"}]},
        format="json",
    )
    assert response.status_code == 201
    customer = Customer.objects.get(pk=response.json()["id"])
    identity = customer.identities.get()
    (created,) = _log("customers.customeridentity", identity.pk)
    assert (created["action"], created["entry_point"]) == ("create", "api")
    assert _change(created, "value")["new"] == "+8613800000077"


# --- refusals -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (None, "required"),
        ("leads.lead", "invalid"),
        ("leads.lead:abc", "invalid"),
        ("leads:42", "invalid"),
        ("leads.lead:99999999999999999999", "invalid"),
        ("leads.nothing:1", "unknown_model"),
        ("leads.tag:1", "not_tracked"),
        ("leads.historicallead:1", "not_tracked"),
    ],
)
def test_a_bad_object_is_a_400_naming_the_field(api_as, value, code):
    params = {} if value is None else {"object": value}
    response = api_as("admin").get("/api/v1/audit/", params)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [("object", code)]


def test_a_record_that_never_existed_is_a_404_naming_the_field(api_as):
    response = api_as("admin").get("/api/v1/audit/", {"object": "leads.lead:987654"})
    assert response.status_code == 404
    assert response.json()["errors"][0]["field"] == "object"


# --- who reads it ---------------------------------------------------------------------------------------------

READERS = {
    "leads.lead": {"sales_manager", "marketing_manager", "admin"},
    "customers.customer": {"sales_manager", "marketing_manager", "service_manager", "admin"},
    "feedback.complaint": {"service_manager", "admin"},
    "okr.objective": {"sales_manager", "admin"},  # a sales objective
    "config.webhookendpoint": {"admin"},
}


def _record(label: str):
    if label == "leads.lead":
        return lead_through(Stage.NEW)
    if label == "customers.customer":
        return CustomerFactory()
    if label == "feedback.complaint":
        return ComplaintFactory()
    if label == "okr.objective":
        return ObjectiveFactory(department="sales")
    return WebhookEndpoint.objects.create(url="https://hooks.example.com/r", secret=webhooks.new_secret())


@pytest.mark.parametrize("label", sorted(READERS))
@pytest.mark.parametrize("role", ROLES)
def test_managers_read_their_departments_history_admins_all_in_the_api_page_and_admin(api_as, client_as, label, role):
    record = _record(label)
    allowed = role in READERS[label]
    user = make_user(role)
    api = api_as(user=user).get("/api/v1/audit/", {"object": f"{label}:{record.pk}"})
    assert api.status_code == (200 if allowed else 403)
    client = client_as(user=user)
    page = client.get(reverse("audit-record", args=[label, record.pk]))
    assert page.status_code == (200 if allowed else 403)
    app_label, model_name = label.split(".")
    admin = client.get(reverse(f"admin:{app_label}_{model_name}_history", args=[record.pk]))
    assert admin.status_code == (200 if allowed else 403)


def test_an_objective_is_read_by_its_own_departments_manager_only(api_as):
    objective = ObjectiveFactory(department="service")
    for role, status in [("service_manager", 200), ("sales_manager", 403), ("service", 403)]:
        response = api_as(role).get("/api/v1/audit/", {"object": f"okr.objective:{objective.pk}"})
        assert response.status_code == status, role


@pytest.mark.parametrize(
    ("label", "role", "shown"),
    [
        ("leads.lead", "sales_manager", True),
        ("leads.lead", "sales", False),
        ("customers.customer", "service_manager", True),
        ("customers.customer", "marketing", False),
        ("feedback.complaint", "service_manager", True),
        ("feedback.complaint", "sales_manager", False),
    ],
)
def test_detail_pages_link_their_history_for_those_who_may_read_it(client_as, label, role, shown):
    record = _record(label)
    url = {
        "leads.lead": "leads:lead-detail",
        "customers.customer": "customers:customer-detail",
        "feedback.complaint": "feedback:complaint-detail",
    }[label]
    page = client_as(role).get(reverse(url, args=[record.pk])).content.decode()
    link = reverse("audit-record", args=[label, record.pk])
    assert (f'href="{link}"' in page) is shown


def test_the_admin_history_is_read_only(client_as):
    lead = lead_through(Stage.NEW)
    version = lead.history.earliest("history_id")
    url = reverse("admin:leads_lead_simple_history", args=[lead.pk, version.history_id])
    client = client_as("sales_manager")
    assert client.get(url).status_code == 200
    assert client.post(url, {"interest": "Reverted"}).status_code == 403
    assert Lead.objects.get(pk=lead.pk).interest == lead.interest


# --- the page and the query counts ------------------------------------------------------------------------------


def test_the_history_page_shows_labels_names_and_a_way_back(client_as):
    seller = make_user("sales", first_name="Wang", last_name="Fang")
    lead = lead_through(Stage.HANDED_OFF, owner=seller)
    client = client_as("sales_manager")
    response = client.get(reverse("audit-record", args=["leads.lead", lead.pk]))
    body = response.content.decode()
    assert f'href="{reverse("leads:lead-detail", args=[lead.pk])}"' in body
    handoff = response.context["entries"][0]
    stage = next(c for c in handoff.changes if c.field == "stage")
    owner = next(c for c in handoff.changes if c.field == "owner")
    assert (stage.label, stage.old_display, stage.new_display) == ("stage", "New", "Handed off")
    assert owner.new_display == "Wang Fang"
    assert "Web page" not in body and "System" in body  # made by services in the test, not through a page


def test_a_deleted_records_history_page_still_shows(client_as):
    objective = ObjectiveFactory(department="sales", title="Grow")
    pk = objective.pk
    Objective.objects.filter(pk=pk).delete()
    response = client_as("sales_manager").get(reverse("audit-record", args=["okr.objective", pk]))
    assert response.status_code == 200
    assert [e.action for e in response.context["entries"]] == ["delete", "create"]


def test_an_unknown_record_page_is_a_404(client_as):
    client = client_as("admin")
    assert client.get(reverse("audit-record", args=["leads.lead", 987654])).status_code == 404
    assert client.get(reverse("audit-record", args=["leads.tag", 1])).status_code == 404


def _versions(n: int) -> Lead:
    lead = lead_through(Stage.NEW)
    marketer = lead.created_by
    for i in range(n - 1):
        lead = lead_services.update_lead(lead=lead, by=marketer, interest=f"Interest {i}", note=f"Note {i}")
    assert lead.history.count() == n
    return lead


@pytest.mark.parametrize("n", [1, 30])
def test_the_api_list_has_a_fixed_query_count(api_as, django_assert_max_num_queries, n):
    lead = _versions(n)
    api = api_as("sales_manager")
    # user's groups, the page of versions with their authors, the version before the page's last
    with django_assert_max_num_queries(3):
        response = api.get("/api/v1/audit/", {"object": f"leads.lead:{lead.pk}", "page_size": 10})
    assert len(response.json()["results"]) == min(n, 10)


@pytest.mark.parametrize("n", [1, 30])
def test_the_page_has_a_fixed_query_count(client_as, django_assert_max_num_queries, n):
    lead = _versions(n)
    client = client_as("sales_manager")
    # session, user, groups, unread notifications, the versions, the version before, the lead itself, and one
    # query per kind of related record the changes name (customer, channel, users)
    with django_assert_max_num_queries(11):
        response = client.get(reverse("audit-record", args=["leads.lead", lead.pk]))
    assert len(response.context["entries"]) == n


def test_the_api_pages_walk_every_version_once_newest_first(api_as):
    lead = _versions(7)
    api = api_as("admin")
    url, seen = f"/api/v1/audit/?object=leads.lead:{lead.pk}&page_size=3", []
    while url:
        body = api.get(url).json()
        seen += [e["id"] for e in body["results"]]
        url = body["next"]
    assert seen == list(lead.history.order_by("-history_id").values_list("history_id", flat=True))
    # Each version is diffed against the one before it, across page boundaries too.
    first_page = api.get(f"/api/v1/audit/?object=leads.lead:{lead.pk}&page_size=3").json()["results"]
    assert _change(first_page[-1], "interest")["old"] == "Interest 2"


def test_counting_queries_covers_the_audit_endpoint(api_as):
    """The history insert is one query per tracked save (leads/test_queries.py counts it in the handoff)."""
    lead = lead_through(Stage.NEW)
    with CaptureQueriesContext(connection) as queries:
        lead_services.update_lead(lead=lead, by=lead.created_by, interest="Another")
    inserts = [q["sql"] for q in queries.captured_queries if q["sql"].startswith('INSERT INTO "leads_historicallead"')]
    assert len(inserts) == 1


def test_an_import_that_fills_in_an_existing_customer_records_the_import_and_its_author(
    api_as, settings, tmp_path, django_capture_on_commit_callbacks
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.MEDIA_ROOT = tmp_path
    existing = CustomerIdentityFactory(kind="wechat", value="wx_lina", customer__company="", customer__city="").customer
    api = api_as("marketing")
    csv = SimpleUploadedFile("c.csv", b"name,company,city,wechat\nLi Na,ACME,Shanghai,wx_lina\n", "text/csv")
    with django_capture_on_commit_callbacks(execute=True):
        job = api.post("/api/v1/imports/", {"kind": "customers", "file": csv, "dry_run": False}, format="multipart")
    assert job.status_code == 202, job.content
    newest = _log("customers.customer", existing.pk)[0]
    assert (newest["entry_point"], newest["by"]["id"]) == ("import", api.user.pk)
    assert _change(newest, "company") == {"field": "company", "old": "", "new": "ACME"}
    assert _change(newest, "city") == {"field": "city", "old": "", "new": "Shanghai"}
