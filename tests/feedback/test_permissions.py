import pytest
from django.urls import reverse

from feedback import services
from feedback.models import Complaint, NpsResponse
from tests.conftest import ROLES
from tests.factories import CustomerFactory, make_user

pytestmark = pytest.mark.django_db
WRITERS = {"service", "service_manager", "admin"}


def _complaint(owner=None):
    owner = owner or make_user("service")
    return services.create_complaint(
        by=owner, owner=owner, customer=CustomerFactory(), category="product", description="x"
    )


@pytest.mark.parametrize("role", ROLES)
def test_everyone_reads_every_feedback_page_and_list(client_as, api_as, role):
    complaint = _complaint()
    client = client_as(role)
    for name in ["complaint-list", "my-complaints", "nps-list", "follow-up-list", "insight-list", "invitation-list"]:
        assert client.get(reverse(f"feedback:{name}")).status_code == 200, name
    assert client.get(reverse("feedback:complaint-detail", args=[complaint.pk])).status_code == 200
    api = api_as(role)
    for path in ["complaints/", f"complaints/{complaint.pk}/", "nps-responses/", "nps-invitations/", "tasks/"]:
        assert api.get(f"/api/v1/{path}").status_code == 200, path


def test_anonymous_is_sent_to_login_and_the_api_refuses(client):
    assert client.get(reverse("feedback:complaint-list")).status_code == 302
    from rest_framework.test import APIClient

    assert APIClient().get("/api/v1/complaints/").status_code in (401, 403)


@pytest.mark.parametrize("role", ROLES)
def test_only_service_writes_complaints_and_nps_on_the_api(api_as, role):
    api = api_as(role)
    customer = CustomerFactory()
    created = api.post(
        "/api/v1/complaints/", {"customer": customer.pk, "category": "price", "description": "x"}, format="json"
    )
    nps = api.post("/api/v1/nps-responses/", {"customer": customer.pk, "score": 9}, format="json")
    complaint = _complaint()
    moved = api.post(f"/api/v1/complaints/{complaint.pk}/transition/", {"status": "in_progress"}, format="json")
    if role in WRITERS:
        assert (created.status_code, nps.status_code) == (201, 201)
    else:
        assert (created.status_code, nps.status_code) == (403, 403)
        assert created.headers["Content-Type"] == "application/problem+json"
        assert Complaint.objects.count() == 1 and not NpsResponse.objects.exists()
    # someone else's complaint: only the service manager and admin act on it
    expected = 200 if role in {"service_manager", "admin"} else 403
    assert moved.status_code == expected
    assert Complaint.objects.get(pk=complaint.pk).status == ("in_progress" if expected == 200 else "open")


@pytest.mark.parametrize("role", ROLES)
def test_page_writes_are_refused_with_the_403_page(client_as, role):
    client = client_as(role)
    complaint = _complaint()
    customer = CustomerFactory()
    create = client.post(
        reverse("feedback:complaint-create"),
        {"customer": customer.pk, "category": "price", "severity": "low", "description": "x"},
    )
    transition = client.post(reverse("feedback:complaint-transition", args=[complaint.pk]), {"status": "in_progress"})
    nps = client.post(reverse("feedback:nps-list"), {"customer": customer.pk, "score": 5})
    if role in WRITERS:
        assert (create.status_code, nps.status_code) == (302, 302)
    else:
        assert (create.status_code, nps.status_code) == (403, 403)
    assert transition.status_code == (302 if role in {"service_manager", "admin"} else 403)


def test_service_user_takes_an_unowned_complaint_but_only_the_manager_reassigns(api_as):
    manager = make_user("service_manager")
    complaint = services.create_complaint(by=manager, customer=CustomerFactory(), category="other", description="x")
    alice, bob = api_as("service"), api_as("service")
    refused = alice.patch(f"/api/v1/complaints/{complaint.pk}/", {"owner": bob.user.pk}, format="json")
    assert refused.status_code == 403
    taken = alice.patch(f"/api/v1/complaints/{complaint.pk}/", {"owner": alice.user.pk}, format="json")
    assert taken.json()["owner"] == alice.user.pk
    assert bob.post(f"/api/v1/complaints/{complaint.pk}/transition/", {"status": "in_progress"}).status_code == 403
    boss = api_as("service_manager", user=manager)
    sales_user = make_user("sales")
    not_service = boss.patch(f"/api/v1/complaints/{complaint.pk}/", {"owner": sales_user.pk}, format="json")
    assert (not_service.status_code, not_service.json()["errors"][0]["field"]) == (400, "owner")
    assert boss.patch(f"/api/v1/complaints/{complaint.pk}/", {"owner": bob.user.pk}, format="json").status_code == 200
    assert list(Complaint.objects.get().status_changes.values_list("kind", flat=True)) == ["status", "assign", "assign"]


@pytest.mark.parametrize("role", ROLES)
def test_admin_follows_the_same_rules(client_as, role):
    complaint = _complaint()
    client = client_as(role)
    changelist = client.get(reverse("admin:feedback_complaint_changelist"))
    assert changelist.status_code == 200
    add = client.get(reverse("admin:feedback_complaint_add"))
    assert add.status_code == (200 if role in WRITERS else 403)
    action = client.post(
        reverse("admin:feedback_complaint_changelist"),
        {"action": "start_work", "_selected_action": [complaint.pk]},
    )
    status = Complaint.objects.get(pk=complaint.pk).status
    if role in {"service_manager", "admin"}:
        assert status == "in_progress"
    else:
        assert status == "open", action.status_code
