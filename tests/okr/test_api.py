from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from okr import services
from okr.models import CheckIn, KeyResult, Objective
from okr.selectors import current_quarter, quarter_bounds
from tests.factories import CheckInFactory, KeyResultFactory, ObjectiveFactory, make_user
from tests.okr.conftest import at, history

pytestmark = pytest.mark.django_db


def test_manager_creates_objective_and_key_result(api_as):
    manager = make_user("sales_manager")
    api = api_as(user=manager)
    response = api.post(
        "/api/v1/objectives/",
        {"department": "sales", "quarter": "2026Q4", "owner": manager.pk, "title": "Faster deals"},
        format="json",
    )
    assert response.status_code == 201, response.content
    objective_id = response.json()["id"]
    response = api.post(
        "/api/v1/key-results/",
        {
            "objective": objective_id,
            "title": "Cycle time",
            "metric": "cycle_time_days",
            "baseline": "45",
            "target": "28",
            "metric_filters": {"channel": "web"},
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["direction"] == "down"  # the metric's direction by default
    assert body["current"] is None and body["progress"] is None  # no data yet
    assert body["metric_filters"] == {"channel": "web"}


def test_key_result_reports_live_value_progress_and_confidence(api_as):
    quarter = current_quarter()
    start, _end = quarter_bounds(quarter)
    history(("new", "handed_off", at(start)), ("negotiation", "won", at(start, 12)))  # 0.5 days
    kr = KeyResultFactory(
        objective=ObjectiveFactory(quarter=quarter),
        metric="cycle_time_days",
        direction="down",
        baseline=Decimal("10.5"),
        target=Decimal("0.5"),
    )
    CheckInFactory(key_result=kr, confidence=6)
    body = api_as("service").get(f"/api/v1/key-results/{kr.pk}/").json()
    assert (body["current"], body["progress"], body["confidence"]) == (0.5, 100.0, 6)


def test_manual_key_result_progress(api_as):
    kr = KeyResultFactory(baseline=0, target=200, manual_value=50)
    body = api_as("marketing").get(f"/api/v1/key-results/{kr.pk}/").json()
    assert (body["current"], body["progress"]) == (50.0, 25.0)


def test_binding_a_metric_clears_the_manual_value(api_as):
    manager = make_user("sales_manager")
    kr = KeyResultFactory(objective=ObjectiveFactory(owner=manager), manual_value=3)
    response = api_as(user=manager).patch(f"/api/v1/key-results/{kr.pk}/", {"metric": "close_rate"}, format="json")
    assert response.status_code == 200, response.content
    kr.refresh_from_db()
    assert (kr.metric, kr.manual_value) == ("close_rate", None)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"metric": "happiness"}, "metric"),
        ({"metric": "nps", "metric_filters": {"channel": "web"}}, "metric_filters"),
        ({"baseline": "abc"}, "baseline"),
        ({"direction": "sideways"}, "direction"),
    ],
)
def test_bad_key_result_is_400_naming_the_field(api_as, payload, field):
    manager = make_user("sales_manager")
    objective = ObjectiveFactory(owner=manager)
    body = {"objective": objective.pk, "title": "KR", "baseline": "0", "target": "1", **payload}
    response = api_as(user=manager).post("/api/v1/key-results/", body, format="json")
    assert response.status_code == 400
    assert field in {e["field"] for e in response.json()["errors"]}
    assert not KeyResult.objects.exists()


def test_objective_owner_must_belong_to_the_department(api_as):
    manager = make_user("sales_manager")
    response = api_as(user=manager).post(
        "/api/v1/objectives/",
        {"department": "sales", "quarter": "2026Q4", "owner": make_user("service").pk, "title": "X"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "owner"


@pytest.mark.parametrize("role", ["sales", "marketing_manager", "service_manager", "marketing"])
def test_only_the_departments_manager_edits_its_okrs(api_as, role):
    objective = ObjectiveFactory(department="sales")
    kr = KeyResultFactory(objective=objective)
    api = api_as(role)
    assert api.get(f"/api/v1/objectives/{objective.pk}/").status_code == 200  # everyone reads
    assert api.patch(f"/api/v1/objectives/{objective.pk}/", {"title": "Mine"}, format="json").status_code == 403
    assert api.delete(f"/api/v1/key-results/{kr.pk}/").status_code == 403
    response = api.post(
        "/api/v1/objectives/",
        {"department": "sales", "quarter": "2026Q4", "owner": objective.owner_id, "title": "X"},
        format="json",
    )
    assert response.status_code == 403
    assert response["Content-Type"].startswith("application/problem+json")
    assert api.post(f"/api/v1/key-results/{kr.pk}/check-ins/", {"confidence": 5}, format="json").status_code == 403
    objective.refresh_from_db()
    assert objective.title != "Mine" and KeyResult.objects.filter(pk=kr.pk).exists()
    assert Objective.objects.count() == 1 and not CheckIn.objects.exists()


@pytest.mark.parametrize("role", ["sales_manager", "admin"])
def test_manager_and_admin_edit(api_as, role):
    objective = ObjectiveFactory(department="sales")
    kr = KeyResultFactory(objective=objective)
    api = api_as(role)
    assert api.patch(f"/api/v1/objectives/{objective.pk}/", {"title": "Renamed"}, format="json").status_code == 200
    assert api.delete(f"/api/v1/key-results/{kr.pk}/").status_code == 204


def test_check_ins_crud(api_as):
    manager = make_user("service_manager")
    kr = KeyResultFactory(objective=ObjectiveFactory(department="service", owner=manager), manual_value=5)
    api = api_as(user=manager)
    url = f"/api/v1/key-results/{kr.pk}/check-ins/"
    created = api.post(url, {"confidence": 7, "comment": "Good week"}, format="json")
    assert created.status_code == 201, created.content
    check_in_id = created.json()["id"]
    assert created.json()["value"] == "5.0000"
    assert api.post(url, {"confidence": 12}, format="json").json()["errors"][0]["field"] == "confidence"
    listed = api.get(url).json()
    assert [c["id"] for c in listed["results"]] == [check_in_id]
    assert api.patch(f"{url}{check_in_id}/", {"confidence": 4}, format="json").json()["confidence"] == 4
    assert api.delete(f"{url}{check_in_id}/").status_code == 204
    assert api.get("/api/v1/key-results/999999/check-ins/").status_code == 404


@pytest.mark.parametrize("n", [2, 20])
def test_key_result_list_queries_do_not_grow(api_as, django_assert_max_num_queries, n):
    for i in range(n):
        KeyResultFactory(metric=("close_rate", "nps")[i % 2])
    api = api_as("sales")
    extra = 3 if connection.vendor == "postgresql" else 0  # SAVEPOINT, SET LOCAL jit = off, RELEASE
    with django_assert_max_num_queries(6 + extra):  # groups, page, close_rate, nps (+ slack)
        response = api.get("/api/v1/key-results/", {"page_size": 50})
    assert len(response.json()["results"]) == n


def test_objectives_filter_by_quarter(api_as):
    ObjectiveFactory(quarter="2026Q1")
    wanted = ObjectiveFactory(quarter="2026Q2")
    body = api_as("sales").get("/api/v1/objectives/", {"quarter": "2026Q2"}).json()
    assert [o["id"] for o in body["results"]] == [wanted.pk]


def test_a_second_check_in_the_same_week_updates_that_weeks_check_in(api_as):
    manager = make_user("service_manager")
    kr = KeyResultFactory(objective=ObjectiveFactory(department="service", owner=manager), manual_value=5)
    last_week = CheckInFactory(key_result=kr, confidence=2, at=timezone.now() - timedelta(days=7))
    api = api_as(user=manager)
    url = f"/api/v1/key-results/{kr.pk}/check-ins/"
    first = api.post(url, {"confidence": 7, "comment": "Good week"}, format="json")
    assert first.status_code == 201, first.content
    KeyResult.objects.filter(pk=kr.pk).update(manual_value=6)
    again = api.post(url, {"confidence": 4, "comment": "Slipping"}, format="json")
    assert again.status_code == 200, again.content
    assert again.json()["id"] == first.json()["id"]
    assert (again.json()["confidence"], again.json()["comment"], again.json()["value"]) == (4, "Slipping", "6.0000")
    assert [c["id"] for c in api.get(url).json()["results"]] == [first.json()["id"], last_week.pk]
    last_week.refresh_from_db()
    assert last_week.confidence == 2


def test_the_check_in_week_runs_monday_to_sunday_local_time():
    manager = make_user("sales_manager")
    kr = KeyResultFactory(objective=ObjectiveFactory(department="sales", owner=manager), manual_value=1)
    sunday_night = timezone.make_aware(datetime(2026, 11, 15, 23, 59))  # Sunday of ISO week 46
    monday = timezone.make_aware(datetime(2026, 11, 16, 0, 0))  # Monday of ISO week 47
    a = services.add_check_in(key_result=kr, by=manager, confidence=5, now=sunday_night - timedelta(days=6))
    b = services.add_check_in(key_result=kr, by=manager, confidence=6, now=sunday_night)
    c = services.add_check_in(key_result=kr, by=manager, confidence=7, now=monday)
    assert (a.created, b.created, c.created) == (True, False, True) and a.pk == b.pk != c.pk
    assert list(CheckIn.objects.filter(key_result=kr).values_list("confidence", flat=True)) == [7, 6]
