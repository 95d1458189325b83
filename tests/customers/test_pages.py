import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from customers.models import Customer, ImportJob
from tests.factories import (
    ComplaintFactory,
    CustomerFactory,
    CustomerIdentityFactory,
    LeadFactory,
    NpsResponseFactory,
    OrderFactory,
    TagFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.mark.parametrize("n", [1, 60])
def test_customer_list_queries_do_not_grow(client_as, django_assert_max_num_queries, n):
    client = client_as("sales")
    for customer in CustomerFactory.create_batch(n):
        CustomerIdentityFactory(customer=customer)
    # session, user, groups, notifications, customers, identities, the person's saved views of the list
    with django_assert_max_num_queries(7):
        response = client.get(reverse("customers:customer-list") + "?size=200&lifecycle=awareness")
    assert response.status_code == 200
    assert response.content.decode().count('data-testid="customer-row"') == n


def test_customer_list_keyset_pages(client_as):
    CustomerFactory.create_batch(7)
    client = client_as("marketing")
    first = client.get(reverse("customers:customer-list") + "?size=3")
    assert first.context["next_url"] and not first.context["previous_url"]
    second = client.get(first.context["next_url"])
    assert [c.pk for c in second.context["customers"]] == sorted(
        Customer.objects.values_list("pk", flat=True), reverse=True
    )[3:6]
    back = client.get(second.context["previous_url"])
    assert [c.pk for c in back.context["customers"]] == [c.pk for c in first.context["customers"]]


def test_filters_on_the_page(client_as):
    tagged = CustomerFactory(name="Tagged One")
    LeadFactory(customer=tagged).tags.add(TagFactory(name="vip"))
    CustomerFactory(name="Other")
    response = client_as("service").get(reverse("customers:customer-list") + "?tag=vip")
    assert [c.pk for c in response.context["customers"]] == [tagged.pk]


def _rich_customer(n):
    customer = CustomerFactory()
    CustomerIdentityFactory(customer=customer)
    for _ in range(n):
        lead = LeadFactory(customer=customer)
        lead.tags.add(TagFactory())
        OrderFactory(customer=customer)
        ComplaintFactory(customer=customer)
        NpsResponseFactory(customer=customer)
    return customer


def test_customer_360_shows_every_department_with_bounded_queries(client_as, django_assert_max_num_queries):
    client = client_as("marketing_manager")
    small, big = _rich_customer(1), _rich_customer(6)
    client.get(reverse("customers:customer-detail", args=[small.pk]))  # warm caches (content types etc.)
    # 28: the 360 before commerce (26), the loyalty panel's points entries and "Recommended next".
    with django_assert_max_num_queries(28) as small_queries:
        client.get(reverse("customers:customer-detail", args=[small.pk]))
    with django_assert_max_num_queries(len(small_queries.captured_queries)):
        response = client.get(reverse("customers:customer-detail", args=[big.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="lifecycle"' in html and 'data-testid="rfm"' in html
    assert html.count('<li class="dept-') >= 6 * 3
    assert "Merge a duplicate" in html  # managers get the merge form


def test_customer_360_hides_manager_actions_from_staff(client_as):
    customer = CustomerFactory()
    html = client_as("sales").get(reverse("customers:customer-detail", args=[customer.pk])).content.decode()
    assert "Merge a duplicate" not in html


def test_create_form_matches_existing_customer(client_as):
    existing = CustomerIdentityFactory(kind="email", value="li@example.com").customer
    client = client_as("service")
    response = client.post(reverse("customers:customer-create"), {"name": "Li", "email": " LI@example.com "})
    assert response.status_code == 302 and response.url == reverse("customers:customer-detail", args=[existing.pk])
    assert Customer.objects.count() == 1
    bad = client.post(reverse("customers:customer-create"), {"name": "X", "phone": "123"})
    assert bad.status_code == 422 and "phone" in bad.context["form"].errors


def test_edit_form(client_as):
    customer = CustomerIdentityFactory(kind="phone", value="+8613800000001").customer
    client = client_as("marketing")
    response = client.post(
        reverse("customers:customer-edit", args=[customer.pk]),
        {"name": "New Name", "company": "", "city": "Suzhou", "phone": "13800000002"},
    )
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.name == "New Name"
    assert list(customer.identities.values_list("value", flat=True)) == ["+8613800000002"]


def test_data_quality_page_offers_merge_to_managers_only(client_as):
    a = CustomerFactory(name="Zhang San", company="ACME")
    CustomerFactory(name="zhang san", company="ACME")
    manager = client_as("sales_manager").get(reverse("customers:data-quality")).content.decode()
    assert 'data-testid="duplicate-group"' in manager
    assert reverse("customers:customer-merge", args=[a.pk]) in manager
    staff = client_as("sales").get(reverse("customers:data-quality")).content.decode()
    assert reverse("customers:customer-merge", args=[a.pk]) not in staff


def test_data_quality_duplicates_scroll_instead_of_clipping_merge_buttons_on_a_phone(client_as):
    CustomerFactory(name="Li Si", company="ACME")
    CustomerFactory(name="li si", company="ACME")
    page = client_as("sales_manager").get(reverse("customers:data-quality")).content.decode()
    wrap = page.index('class="table-wrap" data-testid="duplicates"')
    assert wrap < page.index('data-testid="duplicate-group"') < page.index("</table></div>", wrap)


def test_import_page_flow_with_htmx_progress(client_as, django_capture_on_commit_callbacks):
    client = client_as("marketing")
    upload = SimpleUploadedFile("c.csv", "姓名,手机\n王五,13811112222\n坏,123\n".encode("gb18030"))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("customers:import-list"), {"kind": "customers", "file": upload})
    assert response.status_code == 302
    job = ImportJob.objects.get()
    partial = client.get(response.url, HTTP_HX_REQUEST="true")
    html = partial.content.decode()
    assert 'id="import-progress"' in html and "100%" in html and "<html" not in html
    job.refresh_from_db()
    assert (job.status, job.created_count, job.failed_count, job.encoding) == ("done", 1, 1, "gb18030")
    with django_capture_on_commit_callbacks(execute=True):
        run = client.post(reverse("customers:import-run", args=[job.pk]))
    assert run.status_code == 302
    assert Customer.objects.filter(name="王五", identities__value="+8613811112222").exists()
    report = client.get(reverse("customers:import-errors", args=[job.pk]))
    assert "3,phone," in report.content.decode("utf-8-sig")


@pytest.mark.parametrize(("role", "status"), [("sales", 200), ("service", 200), ("marketing", 200), ("admin", 200)])
def test_import_page_roles(client_as, role, status):
    # Everyone in a department may import something (customers at least); each kind is checked on upload.
    assert client_as(role).get(reverse("customers:import-list")).status_code == status


def test_import_page_refuses_a_kind_the_role_may_not_create(client_as):
    upload = SimpleUploadedFile("orders.csv", b"phone,amount,ordered_at\n13600000009,88,2026-03-02\n")
    response = client_as("marketing").post(reverse("customers:import-list"), {"kind": "orders", "file": upload})
    assert response.status_code == 403


def test_export_csv_of_the_filtered_list(client_as):
    CustomerIdentityFactory(customer=CustomerFactory(name="上海客户", city="Shanghai"), kind="phone")
    CustomerFactory(city="Beijing")
    response = client_as("sales").get(reverse("customers:customer-export") + "?city=Shanghai")
    body = b"".join(response.streaming_content).decode("utf-8")
    lines = body.lstrip("\ufeff").splitlines()
    assert lines[0].startswith("id,name") and len(lines) == 2 and "上海客户" in lines[1]


@pytest.mark.parametrize(
    ("url", "role", "status"),
    [
        ("customers:order-list", "service", 200),
        ("customers:order-create", "service", 200),
        ("customers:order-create", "marketing", 403),
        ("customers:order-create", "sales", 200),
        ("customers:channel-list", "sales", 200),
        ("customers:channel-create", "sales", 403),
        ("customers:channel-create", "marketing", 200),
        ("customers:campaign-create", "marketing", 200),
        ("customers:spend-create", "marketing_manager", 200),
        ("customers:spend-list", "service", 200),
    ],
)
def test_reference_pages_roles(client_as, url, role, status):
    assert client_as(role).get(reverse(url)).status_code == status


def test_spend_and_order_forms_save_through_services(client_as):
    from customers.models import ChannelSpend, Order
    from tests.factories import ChannelFactory

    ChannelFactory(code="wechat")
    client = client_as("marketing_manager")
    response = client.post(reverse("customers:spend-create"), {"channel": "wechat", "month": "2026-04", "amount": "10"})
    assert response.status_code == 302 and ChannelSpend.objects.get().month.isoformat() == "2026-04-01"
    customer = CustomerFactory()
    response = client.post(
        reverse("customers:order-create"),
        {"customer": customer.pk, "amount": "5", "ordered_at": "2026-04-02 10:00", "channel": "wechat"},
    )
    assert response.status_code == 302 and Order.objects.get().customer_id == customer.pk


def test_anonymous_is_sent_to_login(client):
    response = client.get(reverse("customers:customer-list"))
    assert response.status_code == 302 and "login" in response.url


def test_360_shows_rfm_and_lifecycle_after_recompute(client_as):
    from customers.services import recompute_customer_segments

    customer = CustomerFactory()
    OrderFactory(customer=customer)
    recompute_customer_segments()
    html = client_as("sales").get(reverse("customers:customer-detail", args=[customer.pk])).content.decode()
    assert "Loyalty" in html and "R1 F1 M1" in html  # a single customer sits in the first quintile
    listing = client_as("sales").get(reverse("customers:customer-list") + "?lifecycle=loyalty").content.decode()
    assert reverse("customers:customer-detail", args=[customer.pk]) in listing
    other = client_as("sales").get(reverse("customers:customer-list") + "?lifecycle=awareness").content.decode()
    assert reverse("customers:customer-detail", args=[customer.pk]) not in other
