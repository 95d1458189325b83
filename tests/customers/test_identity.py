from datetime import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from config.errors import DomainError
from customers import services
from customers.identity import normalize, normalize_email, normalize_phone
from customers.models import Customer, CustomerIdentity, IdentityKind, Order
from tests.factories import ChannelFactory, CustomerFactory, CustomerIdentityFactory, make_user


@pytest.mark.parametrize(
    "raw",
    [
        "13812345678",
        "138 1234 5678",
        "138-1234-5678",
        "+86 138 1234 5678",
        "+86-138-1234-5678",
        "+8613812345678",
        "0086 138 1234 5678",
        " 86 13812345678 ".replace("86 1", "+86 1"),
        "(+86) 138-1234-5678",
    ],
)
def test_chinese_mobiles_normalize_to_e164(raw):
    assert normalize_phone(raw) == "+8613812345678"


@pytest.mark.parametrize("raw", ["", "   ", "12345", "1381234567", "138123456789", "abc", "+86 000 0000 0000"])
def test_invalid_phones_are_none(raw):
    assert normalize_phone(raw) is None


def test_foreign_numbers_keep_their_country():
    assert normalize_phone("+1 650 253 0000") == "+16502530000"
    assert normalize_phone("+44 20 7946 0018") == "+442079460018"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(" Li.Na@Example.COM ", "li.na@example.com"), ("a@b.cn", "a@b.cn"), ("no-at-sign", None), ("", None)],
)
def test_email_normalization(raw, expected):
    assert normalize_email(raw) == expected


def test_other_kinds_are_trimmed_and_exact():
    assert normalize(IdentityKind.WECHAT, " WxId_AbC ") == "WxId_AbC"
    assert normalize(IdentityKind.MEMBER_CARD, "") is None


@pytest.mark.django_db
def test_resolve_creates_then_matches_by_any_spelling_of_the_phone():
    user = make_user("marketing")
    first, matched = services.resolve_customer(
        contact={"name": "Li Na", "phone": "138 1234 5678", "company": "ACME"}, by=user
    )
    assert not matched
    assert first.identities.get().value == "+8613812345678"
    second, matched = services.resolve_customer(contact={"name": "Nina Li", "phone": "+86-138-1234-5678"}, by=user)
    assert matched and second.pk == first.pk
    assert Customer.objects.count() == 1


@pytest.mark.django_db
def test_resolve_matches_by_email_and_adds_new_identities():
    user = make_user("sales")
    customer = CustomerFactory(company="")
    CustomerIdentityFactory(customer=customer, kind=IdentityKind.EMAIL, value="li@example.com")
    found, matched = services.resolve_customer(
        contact={"email": "  LI@Example.com", "wechat": "wx_li", "company": "Relay Ltd"}, by=user
    )
    assert matched and found.pk == customer.pk
    kinds = set(customer.identities.values_list("kind", "value"))
    assert kinds == {("email", "li@example.com"), ("wechat", "wx_li")}
    customer.refresh_from_db()
    assert customer.company == "Relay Ltd"  # blank filled, never overwritten


@pytest.mark.django_db
def test_resolve_matches_wecom_and_member_card_exactly():
    user = make_user("service")
    customer = CustomerIdentityFactory(kind=IdentityKind.MEMBER_CARD, value="VIP-001").customer
    assert services.resolve_customer(contact={"member_card": "VIP-001"}, by=user) == (customer, True)
    other, matched = services.resolve_customer(contact={"name": "X", "member_card": "vip-001"}, by=user)
    assert not matched and other.pk != customer.pk


@pytest.mark.django_db
def test_resolve_follows_a_tombstone_to_the_survivor():
    survivor = CustomerFactory()
    tomb = CustomerFactory(merged_into=survivor)
    CustomerIdentityFactory(customer=tomb, kind=IdentityKind.WECOM, value="wc-1")
    found, matched = services.resolve_customer(contact={"wecom": "wc-1"}, by=None)
    assert matched and found.pk == survivor.pk


@pytest.mark.django_db
@pytest.mark.parametrize(("key", "value"), [("phone", "12345"), ("email", "nope")])
def test_resolve_refuses_invalid_phone_or_email_naming_the_field(key, value):
    with pytest.raises(DomainError) as error:
        services.resolve_customer(contact={"name": "A", key: value}, by=None, field_prefix="contact.")
    assert error.value.field == f"contact.{key}"
    assert Customer.objects.count() == 0


@pytest.mark.django_db
def test_resolve_needs_a_name_or_identity():
    with pytest.raises(DomainError) as error:
        services.resolve_customer(contact={"company": "ACME"}, by=None)
    assert error.value.field == "name"


@pytest.mark.django_db
def test_create_order_and_resend_returns_existing():
    customer = CustomerFactory()
    channel = ChannelFactory(code="tmall")
    at = timezone.make_aware(datetime(2026, 3, 1, 10))
    order = services.create_order(customer=customer, amount="99.50", ordered_at=at, channel="tmall", external_id="T1")
    again = services.create_order(customer=customer, amount="99.50", ordered_at=at, channel=channel, external_id="T1")
    assert again.pk == order.pk and Order.objects.count() == 1
    assert order.amount == Decimal("99.50")
    services.create_order(customer=customer, amount=5, ordered_at=at, channel=channel)
    services.create_order(customer=customer, amount=5, ordered_at=at, channel=channel)
    assert Order.objects.count() == 3


@pytest.mark.django_db
def test_create_order_on_a_tombstone_lands_on_the_survivor():
    survivor = CustomerFactory()
    tomb = CustomerFactory(merged_into=survivor)
    order = services.create_order(customer=tomb, amount="1", ordered_at=timezone.now())
    assert order.customer_id == survivor.pk


@pytest.mark.django_db
def test_create_order_refuses_bad_amount_and_roles():
    customer = CustomerFactory()
    with pytest.raises(DomainError) as error:
        services.create_order(customer=customer, amount="-1", ordered_at=timezone.now())
    assert error.value.field == "amount"
    with pytest.raises(PermissionDenied):
        services.create_order(customer=customer, amount="1", ordered_at=timezone.now(), by=make_user("service"))
    assert services.create_order(customer=customer, amount="1", ordered_at=timezone.now(), by=make_user("sales"))


@pytest.mark.django_db
def test_identity_unique_constraint_keeps_one_owner():
    user = make_user("marketing")
    a, _ = services.resolve_customer(contact={"name": "A", "phone": "13900000001"}, by=user)
    b, _ = services.resolve_customer(contact={"name": "B", "email": "b@example.com"}, by=user)
    # One contact carrying both: the first matching kind wins and nothing is stolen from b.
    found, matched = services.resolve_customer(contact={"phone": "13900000001", "email": "b@example.com"}, by=user)
    assert matched and found.pk == a.pk
    assert CustomerIdentity.objects.get(value="b@example.com").customer_id == b.pk


@pytest.mark.django_db
def test_lead_intake_matches_through_the_same_service(api_as):
    existing = CustomerIdentityFactory(kind=IdentityKind.PHONE, value="+8613812345678").customer
    ChannelFactory(code="expo")
    response = api_as("marketing").post(
        "/api/v1/leads/",
        {"contact": {"name": "Li Na", "phone": "138-1234-5678"}, "source_channel": "expo", "tags": ["booth"]},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["customer_matched"] is True and response.json()["customer"] == existing.pk
    bad = api_as("marketing").post(
        "/api/v1/leads/", {"contact": {"name": "X", "phone": "12"}, "source_channel": "expo"}, format="json"
    )
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] in ("contact.phone", "phone")
