"""A customer's preferred language: form, API, CSV import, admin filter and the 360 page."""

import pytest
from django.urls import reverse

from customers.models import Customer
from tests.customers.test_imports import _dry_then_run, _upload
from tests.factories import CustomerFactory, CustomerIdentityFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def _problem_fields(response):
    return [e["field"] for e in response.json()["errors"]]


def test_api_create_update_and_read_the_language(api_as):
    api = api_as("marketing")
    created = api.post("/api/v1/customers/", {"name": "Emma", "language": "zh-hans"}, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["language"] == "zh-hans"
    pk = created.json()["id"]
    assert Customer.objects.get(pk=pk).language == "zh-hans"

    changed = api.patch(f"/api/v1/customers/{pk}/", {"language": "en"}, format="json")
    assert changed.status_code == 200 and changed.json()["language"] == "en"
    untouched = api.patch(f"/api/v1/customers/{pk}/", {"city": "Suzhou"}, format="json")
    assert untouched.json()["language"] == "en"  # a partial update without the field keeps it
    cleared = api.patch(f"/api/v1/customers/{pk}/", {"language": ""}, format="json")
    assert cleared.json()["language"] == ""
    assert api.get(f"/api/v1/customers/{pk}/").json()["language"] == ""


@pytest.mark.parametrize("value", ["fr", "chinese", 7])
def test_api_refuses_an_unknown_language_naming_the_field(api_as, value):
    api = api_as("marketing")
    bad = api.post("/api/v1/customers/", {"name": "Emma", "language": value}, format="json")
    assert bad.status_code == 400 and _problem_fields(bad) == ["language"]
    assert not Customer.objects.exists()
    customer = CustomerFactory(language="en")
    bad = api.patch(f"/api/v1/customers/{customer.pk}/", {"language": value}, format="json")
    assert bad.status_code == 400 and _problem_fields(bad) == ["language"]
    customer.refresh_from_db()
    assert customer.language == "en"


def test_api_create_matching_an_existing_customer_fills_a_blank_language_only(api_as):
    api = api_as("marketing")
    blank = CustomerIdentityFactory(kind="email", value="a@example.com").customer
    chosen = CustomerIdentityFactory(kind="email", value="b@example.com", customer__language="en").customer
    for email in ("a@example.com", "b@example.com"):
        response = api.post(
            "/api/v1/customers/",
            {"name": "X", "language": "zh-hans", "identities": [{"kind": "email", "value": email}]},
            format="json",
        )
        assert response.status_code == 200
    blank.refresh_from_db()
    chosen.refresh_from_db()
    assert (blank.language, chosen.language) == ("zh-hans", "en")


def test_form_create_and_edit_the_language(client_as):
    client = client_as("service")
    page = client.get(reverse("customers:customer-create")).content.decode()
    assert 'name="language"' in page and '<option value="" selected>' in page
    response = client.post(reverse("customers:customer-create"), {"name": "王芳", "language": "zh-hans"})
    assert response.status_code == 302
    customer = Customer.objects.get()
    assert customer.language == "zh-hans"

    edit = client.get(reverse("customers:customer-edit", args=[customer.pk])).content.decode()
    assert '<option value="zh-hans" selected>' in edit
    response = client.post(reverse("customers:customer-edit", args=[customer.pk]), {"name": "王芳", "language": "en"})
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.language == "en"

    bad = client.post(reverse("customers:customer-edit", args=[customer.pk]), {"name": "王芳", "language": "fr"})
    assert bad.status_code == 422 and "language" in bad.context["form"].errors
    customer.refresh_from_db()
    assert customer.language == "en"

    detail = client.get(reverse("customers:customer-detail", args=[customer.pk])).content.decode()
    assert "Preferred language" in detail and "English" in detail


def test_import_reads_the_language_column_and_reports_bad_values(api_as, django_capture_on_commit_callbacks):
    api = api_as("marketing")
    matched = CustomerIdentityFactory(kind="phone", value="+8613800000009").customer
    csv_text = (
        "姓名,手机,语言\n"
        "王芳,13800000001,zh-hans\n"
        "Emma,13800000002,EN\n"
        "Nobody,13800000003,\n"
        "Bad,13800000004,french\n"
        "Matched,13800000009,en\n"
    )
    dry, real = _dry_then_run(api, django_capture_on_commit_callbacks, "customers", csv_text)
    assert [(e["row"], e["column"]) for e in dry["errors"]] == [(5, "language")]
    assert (real["created_count"], real["updated_count"], real["failed_count"]) == (3, 1, 1)
    languages = dict(Customer.objects.values_list("name", "language"))
    assert languages == {"王芳": "zh-hans", "Emma": "en", "Nobody": "", matched.name: "en"}


def test_import_of_leads_ignores_a_language_column(api_as, django_capture_on_commit_callbacks):
    api = api_as("marketing")
    with django_capture_on_commit_callbacks(execute=True):
        job = _upload(api, "leads", "name,phone,language\nLi,13800000001,whatever\n").json()
    assert api.get(f"/api/v1/imports/{job['id']}/").json()["failed_count"] == 0


def test_admin_filters_customers_by_language(client_as):
    CustomerFactory(name="Anglo", language="en")
    CustomerFactory(name="Sino", language="zh-hans")
    page = client_as("admin").get(reverse("admin:customers_customer_changelist") + "?language__exact=en")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Anglo" in html and "Sino" not in html
    assert "By preferred language" in html  # offered in the filter sidebar
