import pytest
from django.urls import reverse


@pytest.mark.django_db
def test_schema_and_forms_render(client_as):
    client = client_as("service")
    for name in ["complaint-create", "invitation-list", "nps-list"]:
        assert client.get(reverse(f"feedback:{name}")).status_code == 200
    r = client.get("/api/schema/")
    assert r.status_code == 200
    assert b"/api/v1/complaints/{id}/transition/" in r.content
