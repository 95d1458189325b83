import re

import pytest
from rest_framework.test import APIClient

from config.models import IdempotencyRecord
from tests.conftest import ROLES
from tests.factories import UserFactory, make_user

pytestmark = pytest.mark.django_db
PROBLEM = "application/problem+json"


@pytest.mark.parametrize("role", ROLES)
def test_users_me_answers_for_every_role(api_as, role):
    api = api_as(role)
    body = api.get("/api/v1/users/me/").json()
    assert body["id"] == api.user.pk
    assert body["username"] == api.user.username
    assert body["department"] == (None if role == "admin" else role.removesuffix("_manager"))
    assert body["is_manager"] is (role.endswith("_manager") or role == "admin")


def test_users_list_is_staff_only_filterable_and_paginated(api_as):
    api = api_as("sales")
    make_user("service")
    UserFactory()  # no department: not staff
    body = api.get("/api/v1/users/", {"department": "service"}).json()
    assert set(body) >= {"results", "next", "previous"}
    assert [u["department"] for u in body["results"]] == ["service"]


@pytest.mark.parametrize("n", [2, 40])
def test_users_list_queries_do_not_grow(api_as, django_assert_max_num_queries, n):
    api = api_as("sales")
    for _ in range(n):
        make_user("marketing")
    with django_assert_max_num_queries(3):
        response = api.get("/api/v1/users/", {"page_size": 200})
    assert len(response.json()["results"]) == n + 1


def test_page_size_is_capped_at_200_and_cursor_pages_are_stable(api_as):
    api = api_as("sales")
    for _ in range(5):
        make_user("marketing")
    first = api.get("/api/v1/users/", {"page_size": 2}).json()
    second = api.get(first["next"]).json()
    ids = [u["id"] for u in first["results"] + second["results"]]
    assert len(ids) == len(set(ids)) == 4


def test_anonymous_request_is_a_problem_document():
    response = APIClient().get("/api/v1/users/me/")
    assert response.status_code in (401, 403)
    assert response["Content-Type"] == PROBLEM
    assert response.json()["status"] == response.status_code


def test_user_outside_any_department_is_forbidden():
    api = APIClient()
    api.force_authenticate(UserFactory())
    response = api.get("/api/v1/users/")
    assert response.status_code == 403
    assert response["Content-Type"] == PROBLEM


def test_malformed_json_is_a_400_problem(api_as):
    api = api_as("sales")
    response = api.post("/api/v1/auth/token/", data="{not json", content_type="application/json")
    assert response.status_code == 400
    body = response.json()
    assert response["Content-Type"] == PROBLEM
    assert {"type", "title", "status", "detail", "errors"} <= set(body)


def test_invalid_fields_are_named(api_as):
    response = APIClient().post("/api/v1/auth/token/", {"username": "x"}, format="json")
    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM
    assert {"field": "password", "code": "required"}.items() <= response.json()["errors"][0].items()


def test_unknown_api_path_is_a_404_problem(api_as):
    response = api_as("sales").get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response["Content-Type"] == PROBLEM


def test_token_authentication_works():
    make_user("sales", username="bot")
    token = APIClient().post("/api/v1/auth/token/", {"username": "bot", "password": "relay-test-pass"}).json()["token"]
    api = APIClient(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.get("/api/v1/users/me/").json()["username"] == "bot"


def test_a_new_token_is_never_stored_for_an_idempotent_replay():
    """Replays are covered in test_idempotency.py; a token is shown once, so its answer is never written down."""
    make_user("sales", username="bot")
    api = APIClient(HTTP_IDEMPOTENCY_KEY="k-1")
    first = api.post("/api/v1/auth/token/", {"username": "bot", "password": "relay-test-pass"}, format="json")
    again = api.post("/api/v1/auth/token/", {"username": "bot", "password": "relay-test-pass"}, format="json")
    assert first.status_code == again.status_code == 200
    assert first["Cache-Control"] == "no-store"
    assert "Idempotent-Replayed" not in again
    assert first.json()["token"] != again.json()["token"]
    assert not IdempotencyRecord.objects.exists()


def test_schema_and_docs_render_without_any_outside_request(client_as):
    client = client_as("sales")
    assert client.get("/api/schema/").status_code == 200
    html = client.get("/api/docs/").content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources and all(s.startswith("/") for s in sources), sources
