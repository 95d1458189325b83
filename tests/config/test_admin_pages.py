"""Every registered admin renders its changelist and add page for the admin; a changelist's query count
does not grow with its rows."""

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from leads.stages import Stage
from tests import factories as f

pytestmark = pytest.mark.django_db

MODELS = sorted(admin.site._registry, key=lambda model: model._meta.label)
MAX_QUERIES = 15


def _rows():
    """Rows for every model that has a factory (and, through lead_through, stage changes and activities)."""
    lead = f.lead_through(Stage.CONTACTED)
    f.ActivityFactory(lead=lead)
    f.TagFactory()
    customer = f.CustomerFactory()
    f.CustomerIdentityFactory(customer=customer)
    f.OrderFactory(customer=customer)
    f.ChannelSpendFactory()
    f.CampaignFactory()
    complaint = f.ComplaintFactory(customer=customer)
    f.ComplaintStatusChangeFactory(complaint=complaint)
    f.FollowUpTaskFactory()
    f.NpsResponseFactory()
    f.NpsInvitationFactory()
    objective = f.ObjectiveFactory()
    key_result = f.KeyResultFactory(objective=objective)
    f.CheckInFactory(key_result=key_result)
    f.MetricSnapshotFactory()
    f.NotificationFactory()


def _count(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(queries)


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model._meta.label)
def test_changelist_and_add_page_render_for_the_admin(client_as, model):
    client = client_as("admin")
    opts = model._meta
    changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    _rows()
    few = _count(client, changelist)
    _rows()
    _rows()
    more = _count(client, changelist)
    assert more == few and more <= MAX_QUERIES, (changelist, few, more)
    response = client.get(changelist)
    if admin.site._registry[model].has_add_permission(response.wsgi_request):
        add = reverse(f"admin:{opts.app_label}_{opts.model_name}_add")
        assert client.get(add).status_code == 200, add


ROLES = ["marketing", "sales", "service", "marketing_manager", "sales_manager", "service_manager", "admin"]


def _may_change(client, obj) -> bool:
    opts = obj._meta
    response = client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk]))
    assert response.status_code in (200, 403)
    return response.status_code == 200 and bool(response.context["has_change_permission"])


@pytest.mark.parametrize("role", ROLES)
def test_each_role_changes_only_what_it_may_in_the_admin(client_as, role):
    marketer = f.make_user("marketing")
    new_lead = f.lead_through(Stage.NEW, marketer=marketer)
    complaint = f.ComplaintFactory()
    change = f.lead_through(Stage.CONTACTED).stage_changes.first()
    client = client_as(user=marketer) if role == "marketing" else client_as(role)

    assert _may_change(client, new_lead) == (role in ("marketing", "marketing_manager", "admin"))
    assert _may_change(client, complaint) == (role in ("service", "service_manager", "admin"))
    assert not _may_change(client, change)  # the stage history is read-only, even for the admin

    one, two = f.CustomerFactory(), f.CustomerFactory()
    changelist = client.get(reverse("admin:customers_customer_changelist")).content.decode()
    manager = role.endswith("_manager") or role == "admin"
    assert ("merge_into_oldest" in changelist) == manager
    client.post(
        reverse("admin:customers_customer_changelist"),
        {"action": "merge_into_oldest", "_selected_action": [one.pk, two.pk]},
    )
    two.refresh_from_db()
    assert (two.merged_into_id == one.pk) == manager
