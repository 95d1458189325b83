"""The admin refuses what the roles refuse, per role: deleting customers and identities is for admins only, and a
merged (tombstone) customer is read-only there as in the API."""

import pytest
from django.urls import reverse

from customers.models import Customer, CustomerIdentity
from tests.factories import CustomerFactory, CustomerIdentityFactory

pytestmark = pytest.mark.django_db

ROLES = ["marketing", "sales", "service", "marketing_manager", "sales_manager", "service_manager", "admin"]


@pytest.mark.parametrize("role", ROLES)
def test_only_admins_delete_customers_and_identities(client_as, role):
    customer = CustomerFactory()
    identity = CustomerIdentityFactory(customer=customer)
    client = client_as(role)
    allowed = role == "admin"
    identity_url = reverse("admin:customers_customeridentity_delete", args=[identity.pk])
    assert (client.post(identity_url, {"post": "yes"}).status_code == 302) is allowed
    customer_url = reverse("admin:customers_customer_delete", args=[customer.pk])
    assert (client.post(customer_url, {"post": "yes"}).status_code == 302) is allowed
    assert Customer.objects.filter(pk=customer.pk).exists() is not allowed
    assert CustomerIdentity.objects.filter(pk=identity.pk).exists() is not allowed


@pytest.mark.parametrize("role", ROLES)
def test_a_tombstone_and_its_identities_are_read_only(client_as, role):
    survivor = CustomerFactory()
    tombstone = CustomerFactory(name="Old name", merged_into=survivor)
    identity = CustomerIdentityFactory(customer=tombstone)
    client = client_as(role)
    page = client.get(reverse("admin:customers_customer_change", args=[tombstone.pk]))
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()  # view only
    refused = client.post(reverse("admin:customers_customer_change", args=[tombstone.pk]), {"name": "Renamed"})
    assert refused.status_code == 403
    edit = client.post(
        reverse("admin:customers_customeridentity_change", args=[identity.pk]),
        {"kind": identity.kind, "value": "13900009999", "source_system": ""},
    )
    assert edit.status_code == 403
    assert Customer.objects.get(pk=tombstone.pk).name == "Old name"
    assert CustomerIdentity.objects.get(pk=identity.pk).value == identity.value
