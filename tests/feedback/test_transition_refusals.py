"""A complaint move the status table refuses is a DomainError like leads': 409 `invalid_transition` problem JSON on
the API, and the message on the form's field on the page (422 to htmx, which swaps nothing else)."""

import pytest
from django.urls import reverse

from config.errors import DomainError
from feedback import services
from feedback.errors import InvalidTransition
from feedback.models import Complaint
from leads.stages import InvalidTransition as LeadInvalidTransition
from tests.factories import CustomerFactory, make_user

pytestmark = pytest.mark.django_db

REFUSED = "A complaint that is Open cannot move to Closed."


def _complaint(owner):
    return services.create_complaint(
        by=owner, owner=owner, customer=CustomerFactory(), category="product", severity="low", description="Late."
    )


def test_it_is_a_domain_error_answered_like_the_leads_one():
    assert issubclass(InvalidTransition, DomainError)
    assert (InvalidTransition.status, InvalidTransition.code) == (
        LeadInvalidTransition.status,
        LeadInvalidTransition.code,
    )
    assert (InvalidTransition.status, InvalidTransition.code) == (409, "invalid_transition")


def test_the_api_answers_409_problem_json(api_as):
    api = api_as("service")
    complaint = _complaint(api.user)
    response = api.post(f"/api/v1/complaints/{complaint.pk}/transition/", {"status": "closed"}, format="json")
    assert response.status_code == 409
    assert response["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert (body["status"], body["code"], body["detail"]) == (409, "invalid_transition", REFUSED)
    assert body["errors"] == [{"field": "status", "code": "invalid_transition", "message": REFUSED}]
    assert Complaint.objects.get().status == "open"


def test_the_page_shows_it_on_the_status_field(client_as):
    client = client_as("service")
    complaint = _complaint(client.user)
    url = reverse("feedback:complaint-transition", args=[complaint.pk])
    plain = client.post(url, {"status": "closed"})
    assert plain.status_code == 409
    assert f'<div class="error" data-field="status">{REFUSED}</div>' in plain.content.decode()
    htmx = client.post(url, {"status": "closed"}, HTTP_HX_REQUEST="true")
    body = htmx.content.decode()
    assert htmx.status_code == 422  # so htmx swaps the panel in and the message shows where the buttons are
    assert body.startswith('<div id="complaint-panel"') and f'data-field="status">{REFUSED}<' in body
    assert Complaint.objects.get().status == "open"


def test_a_refused_pause_shows_in_place_too(client_as):
    owner = make_user("service")
    client = client_as(user=owner)
    complaint = _complaint(owner)
    url = reverse("feedback:complaint-pause", args=[complaint.pk])
    htmx = client.post(url, {"waiting": ""}, HTTP_HX_REQUEST="true")  # resume what is not paused
    assert htmx.status_code == 422
    assert 'data-field="waiting_on_customer">This complaint is not waiting on the customer.<' in htmx.content.decode()
    assert client.post(url, {"waiting": ""}).status_code == 409
