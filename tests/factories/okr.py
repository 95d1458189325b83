from decimal import Decimal

import factory
from django.utils import timezone

from okr.models import CheckIn, KeyResult, MetricSnapshot, Objective
from tests.factories.users import make_user


class ObjectiveFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Objective

    department = "sales"
    quarter = "2026Q4"
    owner = factory.LazyFunction(lambda: make_user("sales_manager"))
    title = factory.Sequence(lambda n: f"Objective {n}")


class KeyResultFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = KeyResult

    objective = factory.SubFactory(ObjectiveFactory)
    title = factory.Sequence(lambda n: f"Key result {n}")
    baseline = Decimal("0")
    target = Decimal("100")


class CheckInFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CheckIn

    key_result = factory.SubFactory(KeyResultFactory)
    at = factory.LazyFunction(timezone.now)
    confidence = 7


class MetricSnapshotFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MetricSnapshot

    key_result = factory.SubFactory(KeyResultFactory)
    date = factory.LazyFunction(timezone.localdate)
    value = Decimal("50")
