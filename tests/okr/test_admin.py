import pytest

from okr.models import Objective
from tests.factories import KeyResultFactory, ObjectiveFactory, make_user

pytestmark = pytest.mark.django_db


def test_department_manager_changes_objective_in_admin(client_as):
    manager = make_user("sales_manager")
    objective = ObjectiveFactory(department="sales", owner=manager)
    client = client_as(user=manager)
    response = client.post(
        f"/admin/okr/objective/{objective.pk}/change/",
        {"department": "sales", "quarter": "2026Q4", "owner": manager.pk, "title": "Renamed in admin"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    objective.refresh_from_db()
    assert objective.title == "Renamed in admin"


@pytest.mark.parametrize("role", ["sales", "marketing_manager"])
def test_others_cannot_change_objectives_in_admin(client_as, role):
    objective = ObjectiveFactory(department="sales")
    client = client_as(role)
    assert client.get(f"/admin/okr/objective/{objective.pk}/change/").status_code == 200  # read-only view
    response = client.post(
        f"/admin/okr/objective/{objective.pk}/change/",
        {"department": "sales", "quarter": "2026Q4", "owner": objective.owner_id, "title": "Hijacked"},
    )
    assert response.status_code == 403
    assert client.post(f"/admin/okr/objective/{objective.pk}/delete/", {"post": "yes"}).status_code == 403
    objective.refresh_from_db()
    assert objective.title != "Hijacked"


def test_admin_key_result_form_validates_the_binding(client_as):
    manager = make_user("service_manager")
    objective = ObjectiveFactory(department="service", owner=manager)
    response = client_as(user=manager).post(
        "/admin/okr/keyresult/add/",
        {
            "objective": objective.pk,
            "title": "NPS",
            "metric": "nps",
            "metric_filters": '{"channel": "web"}',
            "baseline": "0",
            "target": "30",
            "direction": "up",
        },
    )
    assert response.status_code == 200  # form redisplayed with the error
    assert not objective.key_results.exists()


def test_admin_manager_of_another_department_cannot_add_key_result(client_as):
    objective = ObjectiveFactory(department="sales")
    KeyResultFactory(objective=objective)
    response = client_as("service_manager").post(
        "/admin/okr/keyresult/add/",
        {
            "objective": objective.pk,
            "title": "Sneaky",
            "metric": "",
            "metric_filters": "{}",
            "baseline": "0",
            "target": "1",
            "direction": "up",
        },
    )
    assert response.status_code == 403
    assert Objective.objects.get().key_results.count() == 1
