"""config.pages: one staff gate for every app's pages, one way to show a service refusal on its form field, one
rule for the status of a page re-rendered with it."""

import pytest
from django import forms
from django.core.exceptions import PermissionDenied
from django.test import RequestFactory
from django.urls import reverse

from config.errors import Conflict, DomainError, StaleObject
from config.pages import STAFF_ONLY, error_status, form_error, staff_required
from customers import views as customer_views
from feedback import views as feedback_views
from leads import views as lead_views
from okr import views as okr_views
from tests.conftest import ROLES
from tests.factories import UserFactory

LIST_PAGES = [
    "leads:lead-list",
    "leads:my-queue",
    "leads:pool",
    "leads:board",
    "feedback:complaint-list",
    "feedback:my-complaints",
    "feedback:nps-list",
    "feedback:invitation-list",
    "feedback:follow-up-list",
    "feedback:insight-list",
    "customers:customer-list",
    "customers:order-list",
    "customers:channel-list",
    "customers:campaign-list",
    "customers:spend-list",
    "customers:import-list",
    "customers:data-quality",
    "okr:board",
    "okr:report-funnel",
    "okr:report-channels",
    "okr:report-cycle-time",
    "okr:report-nps",
]


@pytest.mark.django_db
@pytest.mark.parametrize("groups", [[], ["manager"]], ids=["no group", "manager of no department"])
@pytest.mark.parametrize("name", LIST_PAGES)
def test_a_user_in_no_department_gets_the_403_page_on_every_list(client, name, groups):
    client.force_login(UserFactory(groups=groups))
    response = client.get(reverse(name))
    assert response.status_code == 403
    reason = "Leads are for staff of marketing, sales and service." if name.startswith("leads:") else STAFF_ONLY
    assert response.context["reason"] == str(reason)
    assert str(reason) in response.content.decode()


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", LIST_PAGES)
def test_every_role_reads_every_list(client_as, name, role):
    assert client_as(role).get(reverse(name)).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["leads:pool", "feedback:my-complaints", "customers:spend-list", "okr:board"])
def test_anonymous_is_sent_to_login(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_the_gate_keeps_the_view_name_and_docstring():
    def listing(request):
        """The rows."""

    for gated in (staff_required(listing), staff_required(message="Staff only.")(listing)):
        assert (gated.__name__, gated.__doc__, gated.__wrapped__.__wrapped__) == ("listing", "The rows.", listing)
    for view in (lead_views.pool, feedback_views.complaint_list, customer_views.customer_list, okr_views.board):
        assert view.__module__.endswith(".views") and not view.__name__.startswith("wrapped")


@pytest.mark.django_db
def test_the_gate_refuses_with_its_message():
    request = RequestFactory().get("/")
    request.user = UserFactory()
    with pytest.raises(PermissionDenied, match="Staff only."):
        staff_required(message="Staff only.")(lambda request: None)(request)


class _CustomerForm(forms.Form):
    name = forms.CharField(required=False)
    phone = forms.CharField(required=False)
    email = forms.CharField(required=False)


def _errors(error, field_map=None):
    form = _CustomerForm({})
    form.is_valid()
    form_error(form, error, field_map)
    return form.errors


@pytest.mark.parametrize(
    ("field", "field_map", "where"),
    [
        ("name", None, "name"),
        ("contact.phone", None, "phone"),  # a service's dotted path: its last part
        ("identities[1].value", lambda path: "email" if path.startswith("identities[1]") else path, "email"),
        ("identities[7].value", lambda path: path, "__all__"),  # "value" is no field here
        ("channel", {"channel": "name"}, "name"),
        ("channel", {"channel": None}, "__all__"),
        ("nowhere", None, "__all__"),
        (None, None, "__all__"),
    ],
)
def test_form_error_puts_the_refusal_on_the_field_it_names(field, field_map, where):
    assert _errors(DomainError("Refused.", field=field), field_map) == {where: ["Refused."]}


@pytest.mark.parametrize(
    ("error", "method", "htmx", "status"),
    [
        (DomainError("Bad input."), "post", False, 422),  # a form error
        (DomainError("Bad filter."), "get", False, 400),  # a bad query on a report page
        (Conflict("Changed."), "post", False, 409),
        (StaleObject("Stale."), "post", False, 412),
        (Conflict("Changed."), "post", True, 422),  # htmx swaps 2xx and 422 only
        (DomainError("Bad input."), "get", True, 422),
    ],
)
def test_error_status_follows_the_refusal(error, method, htmx, status):
    request = getattr(RequestFactory(), method)("/")
    request.htmx = htmx
    assert error_status(request, error) == status
