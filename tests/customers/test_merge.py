from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from config.models import Task, TaskKind
from customers import services
from customers.models import Customer, CustomerIdentity, MergeRecord
from feedback.models import Complaint, NpsInvitation, NpsResponse
from leads.models import Lead
from tests.factories import (
    ComplaintFactory,
    CustomerFactory,
    CustomerIdentityFactory,
    FollowUpTaskFactory,
    LeadFactory,
    NpsInvitationFactory,
    NpsResponseFactory,
    OrderFactory,
    TaskFactory,
    make_user,
)


@pytest.fixture
def pair():
    survivor, duplicate = CustomerFactory(name="Li Na"), CustomerFactory(name="Li Na (WeChat)")
    CustomerIdentityFactory(customer=survivor, kind="phone", value="+8613812345678")
    rows = {
        "identity": CustomerIdentityFactory(customer=duplicate, kind="wechat", value="wx_lina"),
        "lead": LeadFactory(customer=duplicate),
        "order": OrderFactory(customer=duplicate),
        "complaint": ComplaintFactory(customer=duplicate),
        "nps": NpsResponseFactory(customer=duplicate),
        "invitation": NpsInvitationFactory(customer=duplicate),
        "follow_up": FollowUpTaskFactory(customer=duplicate),  # a task about the duplicate's NPS answer
    }
    return survivor, duplicate, rows


def _owners(rows):
    """Each row's customer; a task's is the customer of the record it is about."""
    fresh = {name: type(obj).objects.get(pk=obj.pk) for name, obj in rows.items()}
    return {name: (obj.about if isinstance(obj, Task) else obj).customer_id for name, obj in fresh.items()}


def test_every_related_model_is_discovered():
    models = {model for model, _field in services.customer_relations()}
    assert {CustomerIdentity, Lead, Complaint, NpsResponse, NpsInvitation} <= models
    assert Task not in models  # a task is about a lead or an answer, which move with the customer
    assert Customer not in models and MergeRecord not in models


@pytest.mark.django_db
def test_api_merge_moves_everything_and_leaves_a_tombstone(api_as, pair, django_capture_on_commit_callbacks):
    survivor, duplicate, rows = pair
    api = api_as("sales_manager")
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/api/v1/customers/{survivor.pk}/merge/", {"duplicate": duplicate.pk}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["merge"]["duplicate"] == duplicate.pk
    assert set(_owners(rows).values()) == {survivor.pk}
    tomb = api.get(f"/api/v1/customers/{duplicate.pk}/").json()
    assert tomb["merged_into"] == survivor.pk
    survivor.refresh_from_db()
    assert survivor.lifecycle_stage == "loyalty"  # recomputed after the merge (it has an order now)
    # identity matching now lands on the survivor
    assert services.resolve_customer(contact={"wechat": "wx_lina"}, by=None) == (survivor, True)
    # the tombstone page redirects to the survivor
    page = api_as("sales_manager")  # noqa: F841
    timeline = api.get(f"/api/v1/customers/{survivor.pk}/timeline/").json()["results"]
    assert "customer.merged" in {e["kind"] for e in timeline}


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["marketing", "sales", "service"])
def test_non_managers_may_not_merge(api_as, client_as, pair, role):
    survivor, duplicate, rows = pair
    response = api_as(role).post(f"/api/v1/customers/{survivor.pk}/merge/", {"duplicate": duplicate.pk}, format="json")
    assert response.status_code == 403
    page = client_as(role).post(reverse("customers:customer-merge", args=[survivor.pk]), {"duplicate": duplicate.pk})
    assert page.status_code == 403
    assert set(_owners(rows).values()) == {duplicate.pk}
    assert not Customer.objects.get(pk=duplicate.pk).merged_into_id


@pytest.mark.django_db
def test_merge_refusals_name_the_field(api_as, pair):
    survivor, duplicate, _rows = pair
    api = api_as("marketing_manager")
    itself = api.post(f"/api/v1/customers/{survivor.pk}/merge/", {"duplicate": survivor.pk}, format="json")
    assert itself.status_code == 409 and itself.json()["errors"][0]["field"] == "duplicate"
    missing = api.post(f"/api/v1/customers/{survivor.pk}/merge/", {"duplicate": 999999}, format="json")
    assert missing.status_code == 400 and missing.json()["errors"][0]["field"] == "duplicate"
    assert (
        api.post(f"/api/v1/customers/{survivor.pk}/merge/", {"duplicate": duplicate.pk}, format="json").status_code
        == 200
    )
    twice = api.post(f"/api/v1/customers/{survivor.pk}/merge/", {"duplicate": duplicate.pk}, format="json")
    assert (twice.status_code, twice.json()["code"]) == (409, "already_merged")


@pytest.mark.django_db
def test_undo_puts_every_row_back_within_the_window(api_as, pair):
    survivor, duplicate, rows = pair
    manager = make_user("service_manager")
    record = services.merge_customers(survivor=survivor, duplicate=duplicate, by=manager)
    later_order = OrderFactory(customer=survivor)  # arrives after the merge: stays with the survivor
    response = api_as("sales", user=None).post(f"/api/v1/customers/{duplicate.pk}/undo-merge/", {}, format="json")
    assert response.status_code == 403
    response = api_as("service_manager", user=manager).post(
        f"/api/v1/customers/{duplicate.pk}/undo-merge/", {}, format="json"
    )
    assert response.status_code == 200, response.content
    assert set(_owners(rows).values()) == {duplicate.pk}
    assert later_order.__class__.objects.get(pk=later_order.pk).customer_id == survivor.pk
    duplicate.refresh_from_db()
    assert duplicate.merged_into_id is None
    record.refresh_from_db()
    assert record.undone_at is not None
    kinds = [e.kind for e in __import__("customers.selectors").selectors.customer_timeline(customer_id=duplicate.pk)]
    assert "customer.merge_undone" in kinds and "customer.merged" in kinds


@pytest.mark.django_db
def test_undo_is_refused_after_the_window(pair, settings):
    survivor, duplicate, _rows = pair
    manager = make_user("sales_manager")
    record = services.merge_customers(survivor=survivor, duplicate=duplicate, by=manager)
    late = timezone.now() + timedelta(days=settings.RELAY_MERGE_UNDO_DAYS, minutes=1)
    from customers.errors import UndoRefused

    with pytest.raises(UndoRefused) as error:
        services.undo_merge(record=record, by=manager, now=late)
    assert error.value.code == "undo_expired"


@pytest.mark.django_db
def test_page_merge_and_tombstone_redirect(client_as, pair):
    survivor, duplicate, rows = pair
    client = client_as("marketing_manager")
    response = client.post(
        reverse("customers:customer-merge", args=[survivor.pk]), {"duplicate": duplicate.pk, "confirm": "1"}
    )
    assert response.status_code == 302
    assert set(_owners(rows).values()) == {survivor.pk}
    tomb = client.get(reverse("customers:customer-detail", args=[duplicate.pk]))
    assert tomb.status_code == 302 and tomb.url == reverse("customers:customer-detail", args=[survivor.pk])
    page = client.get(reverse("customers:customer-detail", args=[survivor.pk]))
    assert page.status_code == 200


@pytest.mark.django_db
def test_admin_merge_action(client_as, pair):
    survivor, duplicate, rows = pair
    client = client_as("admin")
    response = client.post(
        reverse("admin:customers_customer_changelist"),
        {"action": "merge_into_oldest", "_selected_action": [survivor.pk, duplicate.pk]},
    )
    assert response.status_code == 302
    assert set(_owners(rows).values()) == {survivor.pk}
    assert Customer.objects.get(pk=duplicate.pk).merged_into_id == survivor.pk


@pytest.mark.django_db
def test_admin_merge_action_refused_for_non_managers(client_as, pair):
    survivor, duplicate, rows = pair
    user = make_user("marketing")
    client = client_as("marketing", user=user)
    response = client.post(
        reverse("admin:customers_customer_changelist"),
        {"action": "merge_into_oldest", "_selected_action": [survivor.pk, duplicate.pk]},
    )
    assert response.status_code in (302, 200, 403)
    assert set(_owners(rows).values()) == {duplicate.pk}


@pytest.mark.django_db
def test_admin_identity_is_normalized_or_flagged(client_as):
    customer = CustomerFactory()
    client = client_as("admin")
    url = reverse("admin:customers_customeridentity_add")
    response = client.post(
        url, {"customer": customer.pk, "kind": "phone", "value": "138 1234 5678", "source_system": ""}
    )
    assert response.status_code == 302
    response = client.post(url, {"customer": customer.pk, "kind": "email", "value": "broken", "source_system": ""})
    assert response.status_code == 302
    assert set(customer.identities.values_list("value", "is_valid")) == {("+8613812345678", True), ("broken", False)}


@pytest.mark.django_db
@pytest.mark.parametrize(("role", "status"), [("marketing", 200), ("sales", 200), ("admin", 200)])
def test_admin_changelists_load(client_as, role, status):
    CustomerFactory.create_batch(3)
    OrderFactory.create_batch(2)
    client = client_as(role)
    for name in ("customer", "order", "channel", "mergerecord", "importjob"):
        assert client.get(reverse(f"admin:customers_{name}_changelist")).status_code == status


@pytest.mark.django_db
def test_admin_order_add_goes_through_the_service(client_as):
    from customers.models import Order

    customer = CustomerFactory()
    response = client_as("sales_manager").post(
        reverse("admin:customers_order_add"),
        {
            "customer": customer.pk,
            "amount": "10.00",
            "ordered_at_0": "2026-03-01",
            "ordered_at_1": "10:00:00",
            "external_id": "",
            # The order's lines inline (none here), as the admin page posts them.
            "lines-TOTAL_FORMS": "0",
            "lines-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    assert Order.objects.get().created_by is not None


@pytest.mark.django_db
def test_page_merge_ignores_an_offsite_next(client_as, pair):
    survivor, duplicate, _rows = pair
    response = client_as("sales_manager").post(
        reverse("customers:customer-merge", args=[survivor.pk]),
        {"duplicate": duplicate.pk, "next": "https://evil.example/", "confirm": "1"},
    )
    assert response.status_code == 302 and response.url == reverse("customers:customer-detail", args=[survivor.pk])
    data_quality = client_as("sales_manager").post(
        reverse("customers:customer-merge", args=[survivor.pk]),
        {"duplicate": CustomerFactory().pk, "next": reverse("customers:data-quality"), "confirm": "1"},
    )
    assert data_quality.url == reverse("customers:data-quality")


def _about(task) -> int:
    """The id of the customer a task is about now."""
    task = Task.objects.get(pk=task.pk)
    assert task.content_type.model == "customer"
    return task.object_id


@pytest.mark.django_db
def test_tasks_about_the_duplicate_move_to_the_survivor_and_undo_moves_them_back(api_as):
    survivor, duplicate = CustomerFactory(), CustomerFactory()
    to_do = TaskFactory(about_record=duplicate, title="Call about the renewal")
    done_step = TaskFactory(about_record=duplicate, kind=TaskKind.NEXT_STEP, done_at=timezone.now(), outcome="Met")
    open_step = TaskFactory(about_record=duplicate, kind=TaskKind.NEXT_STEP, title="Send the quote")
    survivors_step = TaskFactory(about_record=survivor, kind=TaskKind.NEXT_STEP, title="Visit the office")
    on_lead = TaskFactory(about_record=LeadFactory(customer=duplicate))  # follows its lead
    manager = make_user("sales_manager")
    api = api_as("sales_manager", user=manager)

    merged = api.post(f"/api/v1/customers/{survivor.pk}/merge/", {"duplicate": duplicate.pk}, format="json")
    assert merged.status_code == 200, merged.content
    assert (_about(to_do), _about(done_step), _about(survivors_step)) == (survivor.pk,) * 3
    # The survivor keeps its own open next step: the duplicate's stays on the tombstone, where undo finds it.
    assert _about(open_step) == duplicate.pk
    assert Task.objects.get(pk=on_lead.pk).about.customer_id == survivor.pk
    record = MergeRecord.objects.get(duplicate=duplicate)
    assert record.moved[services.TASKS_MOVED] == [to_do.pk, done_step.pk]

    later = TaskFactory(about_record=survivor, title="Arrives after the merge")  # stays with the survivor
    undone = api.post(f"/api/v1/customers/{duplicate.pk}/undo-merge/", {}, format="json")
    assert undone.status_code == 200, undone.content
    assert (_about(to_do), _about(done_step), _about(open_step)) == (duplicate.pk,) * 3
    assert (_about(survivors_step), _about(later)) == (survivor.pk, survivor.pk)


@pytest.mark.django_db
def test_the_duplicates_open_next_step_moves_when_the_survivor_has_none(client_as):
    survivor, duplicate = CustomerFactory(), CustomerFactory()
    step = TaskFactory(about_record=duplicate, kind=TaskKind.NEXT_STEP)
    TaskFactory(about_record=survivor, kind=TaskKind.NEXT_STEP, done_at=timezone.now())  # done: no collision
    client = client_as("marketing_manager")
    preview = client.get(reverse("customers:customer-merge", args=[survivor.pk]), {"duplicate": duplicate.pk})
    tasks = next(count for count in preview.context["preview"].counts if count.label == "Tasks")
    assert (tasks.survivor, tasks.duplicate, tasks.after) == (1, 1, 2)
    response = client.post(
        reverse("customers:customer-merge", args=[survivor.pk]), {"duplicate": duplicate.pk, "confirm": "1"}
    )
    assert response.status_code == 302
    assert _about(step) == survivor.pk
    assert Task.objects.filter(object_id=survivor.pk, kind=TaskKind.NEXT_STEP, done_at__isnull=True).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["marketing", "sales", "service"])
def test_a_refused_merge_moves_no_task(api_as, role):
    survivor, duplicate = CustomerFactory(), CustomerFactory()
    task = TaskFactory(about_record=duplicate)
    response = api_as(role).post(f"/api/v1/customers/{survivor.pk}/merge/", {"duplicate": duplicate.pk}, format="json")
    assert response.status_code == 403
    assert _about(task) == duplicate.pk
