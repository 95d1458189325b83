from datetime import timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from customers.models import (
    AccountTeamMember,
    Campaign,
    Channel,
    ChannelSpend,
    Customer,
    CustomerIdentity,
    IdentityKind,
    ImportJob,
    ImportKind,
    Order,
    OrderLine,
    Product,
    TeamRole,
)
from tests.factories.users import UserFactory


class ChannelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Channel
        django_get_or_create = ["code"]

    code = factory.Sequence(lambda n: f"channel-{n}")
    name = factory.LazyAttribute(lambda c: c.code.replace("-", " ").title())


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Campaign

    name = factory.Sequence(lambda n: f"Campaign {n}")
    channel = factory.SubFactory(ChannelFactory)
    starts_on = factory.LazyFunction(lambda: timezone.localdate() - timedelta(days=30))


class ChannelSpendFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ChannelSpend

    channel = factory.SubFactory(ChannelFactory)
    month = factory.LazyFunction(lambda: timezone.localdate().replace(day=1))
    amount = Decimal("1000.00")


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    name = factory.Faker("name")
    company = factory.Faker("company")
    city = factory.Faker("city")


class CustomerIdentityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CustomerIdentity

    customer = factory.SubFactory(CustomerFactory)
    kind = IdentityKind.PHONE
    value = factory.Sequence(lambda n: f"+86138{n:08d}")


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Order

    customer = factory.SubFactory(CustomerFactory)
    amount = Decimal("100.00")
    ordered_at = factory.LazyFunction(timezone.now)
    channel = factory.SubFactory(ChannelFactory)


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product
        django_get_or_create = ["sku"]

    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    name = factory.Sequence(lambda n: f"Product {n}")
    category = "general"
    price = Decimal("50.00")


class OrderLineFactory(factory.django.DjangoModelFactory):
    """A bare line row: the order's amount is not recomputed (create orders with lines through the service or the
    API when the amount matters)."""

    class Meta:
        model = OrderLine

    order = factory.SubFactory(OrderFactory)
    product = factory.SubFactory(ProductFactory)
    quantity = 1
    unit_price = factory.LazyAttribute(lambda line: line.product.price)


class ImportJobFactory(factory.django.DjangoModelFactory):
    """A finished dry run of a customer file (the file itself is not needed to list it)."""

    class Meta:
        model = ImportJob

    kind = ImportKind.CUSTOMERS
    file = "imports/customers.csv"
    original_name = factory.Sequence(lambda n: f"customers-{n}.csv")
    status = "done"


class AccountTeamMemberFactory(factory.django.DjangoModelFactory):
    """A sales person on a customer's account team (tests of rules add members through customers.services)."""

    class Meta:
        model = AccountTeamMember

    customer = factory.SubFactory(CustomerFactory)
    user = factory.SubFactory(UserFactory, groups=["sales"], is_staff=True)
    role = TeamRole.SALES
    added_at = factory.LazyFunction(timezone.now)
