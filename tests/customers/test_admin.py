"""The admin writes customers and identities through customers.services and refuses what the API refuses."""

import pytest
from django.urls import reverse

from customers.models import Customer, CustomerIdentity
from tests.factories import CustomerFactory, CustomerIdentityFactory

pytestmark = pytest.mark.django_db


def _customer_post(customer, *, name, identities):
    data = {
        "name": name,
        "company": customer.company,
        "city": customer.city,
        "language": customer.language,
        "source_channel": customer.source_channel_id or "",
        "identities-TOTAL_FORMS": str(len(identities)),
        "identities-INITIAL_FORMS": str(sum(1 for i in identities if i.get("id"))),
        "identities-MIN_NUM_FORMS": "0",
        "identities-MAX_NUM_FORMS": "1000",
        "team_members-TOTAL_FORMS": "0",  # the account team inline
        "team_members-INITIAL_FORMS": "0",
    }
    for n, identity in enumerate(identities):
        data.update(
            {
                f"identities-{n}-id": identity.get("id", ""),
                f"identities-{n}-customer": customer.pk,
                f"identities-{n}-kind": identity["kind"],
                f"identities-{n}-value": identity["value"],
                f"identities-{n}-source_system": "",
            }
        )
    return data


def test_a_merged_customer_cannot_be_renamed_in_the_admin_as_in_the_api(client_as, api_as):
    survivor = CustomerFactory()
    tombstone = CustomerFactory(name="Old name", merged_into=survivor)
    url = reverse("admin:customers_customer_change", args=[tombstone.pk])
    response = client_as("marketing").post(url, _customer_post(tombstone, name="Renamed", identities=[]))
    api = api_as("marketing").patch(f"/api/v1/customers/{tombstone.pk}/", {"name": "Renamed"}, format="json")
    assert api.status_code == 409
    assert response.status_code == 403  # read-only in the admin (tests/customers/test_admin_roles.py)
    assert Customer.objects.get(pk=tombstone.pk).name == "Old name"


def test_an_identity_of_another_customer_is_refused_in_the_admin_as_in_the_api(client_as, api_as):
    holder = CustomerIdentityFactory(kind="phone", value="+8613800000099").customer
    customer = CustomerFactory()
    url = reverse("admin:customers_customer_change", args=[customer.pk])
    taken = [{"kind": "phone", "value": "138 0000 0099"}]  # any spelling normalizes to the same phone
    response = client_as("sales").post(url, _customer_post(customer, name=customer.name, identities=taken))
    api = api_as("sales").patch(
        f"/api/v1/customers/{customer.pk}/", {"identities": [{"kind": "phone", "value": "13800000099"}]}, format="json"
    )
    assert (api.status_code, api.json()["errors"][0]["code"]) == (409, "identity_taken")
    assert response.status_code == 200
    assert f"This identity belongs to customer #{holder.pk}" in response.content.decode()
    assert CustomerIdentity.objects.get(value="+8613800000099").customer_id == holder.pk


def test_an_identity_is_never_moved_to_another_customer_in_the_admin(client_as):
    identity = CustomerIdentityFactory(kind="phone", value="+8613800000098")
    other = CustomerFactory()
    url = reverse("admin:customers_customeridentity_change", args=[identity.pk])
    client_as("sales").post(url, {"customer": other.pk, "kind": "phone", "value": "+8613800000098"})
    identity.refresh_from_db()
    assert identity.customer_id != other.pk


def test_an_admin_edit_goes_through_the_service(client_as):
    customer = CustomerFactory(name="Li")
    url = reverse("admin:customers_customer_change", args=[customer.pk])
    identities = [{"kind": "email", "value": " LI@Example.COM "}]
    response = client_as("sales").post(url, _customer_post(customer, name="  Li Na  ", identities=identities))
    assert response.status_code == 302, response.content.decode()[:2000]
    customer.refresh_from_db()
    assert customer.name == "Li Na"
    assert list(customer.identities.values_list("kind", "value")) == [("email", "li@example.com")]
