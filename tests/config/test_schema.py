"""The OpenAPI schema documents what the API answers besides success: problem details on every operation."""

import pytest
from drf_spectacular.generators import SchemaGenerator

from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def test_every_operation_documents_its_problem_responses(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            wanted = {"400", "401", "403", "429"} | ({"404"} if "{" in path else set())
            if method != "get":
                wanted |= {"409", "412", "413", "422"}
            assert wanted <= set(responses), (method, path, wanted - set(responses))
            assert responses["403"]["content"]["application/problem+json"]["schema"]["$ref"].endswith("/Problem")


def test_reads_of_one_object_document_not_modified(schema):
    assert "304" in schema["paths"]["/api/v1/leads/{id}/"]["get"]["responses"]


def test_a_put_body_is_the_whole_object(schema, api_as):
    body = schema["paths"]["/api/v1/customers/{id}/"]["put"]["requestBody"]["content"]["application/json"]
    assert body["schema"]["$ref"].endswith("Whole")
    customer = CustomerFactory(name="Li Lei", city="Shanghai")
    api = api_as("marketing")
    partial = api.put(f"/api/v1/customers/{customer.pk}/", {"name": "Li Lei"}, format="json")
    assert partial.status_code == 400
    assert {"city", "company", "identities"} <= {e["field"] for e in partial.json()["errors"]}
    assert api.patch(f"/api/v1/customers/{customer.pk}/", {"name": "Li Lei"}, format="json").status_code == 200
