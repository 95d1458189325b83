"""Search-as-you-type pickers (config.pickers): no form asks for a raw id."""

import pytest

from tests.factories import (
    CampaignFactory,
    CustomerFactory,
    CustomerIdentityFactory,
    OrderFactory,
    lead_through,
    make_user,
)

pytestmark = pytest.mark.django_db


def test_the_owner_picker_offers_sales_people_by_name(client_as, django_assert_max_num_queries):
    seller = make_user("sales", first_name="Michael", last_name="Zhou")
    make_user("marketing", first_name="Michelle", last_name="Zhou")
    client = client_as("sales_manager")
    with django_assert_max_num_queries(6):
        html = client.get("/pick/sales-owners/", {"field": "owner", "pick": "zhou"}).content.decode()
    assert f'<input type="radio" name="owner" value="{seller.pk}"> Michael Zhou' in html
    assert "Michelle" not in html


def test_the_customer_picker_finds_a_customer_by_any_spelling_of_the_phone(client_as):
    customer = CustomerFactory(name="王芳", company="", city="")
    CustomerIdentityFactory(customer=customer, value="+8613812345678")
    html = client_as("sales").get("/pick/customers/", {"field": "customer", "pick": "138 1234 5678"}).content
    assert f'value="{customer.pk}"> 王芳 #{customer.pk}' in html.decode()


def test_the_campaign_picker_names_the_channel(client_as):
    campaign = CampaignFactory(name="Spring expo")
    html = client_as("marketing").get("/pick/campaigns/", {"field": "campaign", "pick": "spring"}).content.decode()
    assert f'value="{campaign.pk}"> Spring expo · {campaign.channel}' in html


def test_pickers_are_for_staff_and_refuse_unknown_kinds_and_field_names(client, client_as):
    assert client.get("/pick/customers/", {"field": "customer", "pick": "ab"}).status_code == 302  # to the login
    staff = client_as("service")
    assert staff.get("/pick/nothing/", {"field": "x", "pick": "ab"}).status_code == 404
    assert staff.get("/pick/customers/", {"field": '"><script>', "pick": "ab"}).status_code == 400
    assert "No matches." in staff.get("/pick/customers/", {"field": "customer", "pick": "zz-none"}).content.decode()


def test_the_lead_filters_pick_people_campaigns_and_customers_without_listing_them(client_as):
    seller = make_user("sales", first_name="Ann", last_name="Li")
    for _n in range(5):
        CampaignFactory()
    html = client_as("sales_manager").get("/leads/", {"owner": seller.pk}).content.decode()
    assert f'<input type="radio" name="owner" value="{seller.pk}" checked> Ann Li' in html
    for kind in ("sales-owners", "campaigns", "customers", "staff"):
        assert f'hx-get="/pick/{kind}/?field=' in html
    assert '<select name="campaign"' not in html and '<select name="owner"' not in html


def test_a_complaint_names_its_order_and_lead_by_picking_them(client_as):
    order = OrderFactory(external_id="TM-2026-0042")
    lead = lead_through("contacted")
    service = client_as("service")
    found = service.get("/pick/orders/", {"field": "order", "pick": "TM-2026-0042"}).content.decode()
    assert f'value="{order.pk}"> #{order.pk} · TM-2026-0042 · {order.customer.name}' in found
    found = service.get("/pick/leads/", {"field": "lead", "pick": f"#{lead.pk}"}).content.decode()
    assert f'value="{lead.pk}"> #{lead.pk} · {lead.customer.name}' in found
    form = service.get("/feedback/complaints/new/").content.decode()
    assert 'hx-get="/pick/orders/?field=order"' in form and 'hx-get="/pick/leads/?field=lead"' in form
    assert 'type="number" name="order"' not in form and 'type="number" name="lead"' not in form


def test_merging_and_recording_an_order_pick_the_customer(client_as):
    survivor = CustomerFactory(name="Helen Johnson")
    duplicate = CustomerFactory(name="helen johnson")
    manager = client_as("sales_manager")
    page = manager.get(f"/customers/{survivor.pk}/").content.decode()
    assert 'hx-get="/pick/customers/?field=duplicate"' in page and 'type="number" name="duplicate"' not in page
    response = manager.post(f"/customers/{survivor.pk}/merge/", {"duplicate": duplicate.pk, "confirm": "1"})
    assert response.status_code == 302
    duplicate.refresh_from_db()
    assert duplicate.merged_into_id == survivor.pk
