from datetime import timedelta

import factory
from django.utils import timezone

from config.models import TaskKind
from feedback.models import (
    Complaint,
    ComplaintStatusChange,
    Insight,
    InsightTag,
    NpsInvitation,
    NpsResponse,
    Severity,
)
from tests.factories.customers import CustomerFactory
from tests.factories.users import TaskFactory


class ComplaintFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Complaint

    customer = factory.SubFactory(CustomerFactory)
    category = "product"
    severity = Severity.MEDIUM
    description = "The device stopped working after a week."
    opened_at = factory.LazyFunction(timezone.now)


class ComplaintStatusChangeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ComplaintStatusChange

    complaint = factory.SubFactory(ComplaintFactory)
    from_status = "open"
    to_status = "in_progress"
    at = factory.LazyFunction(timezone.now)


class NpsInvitationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = NpsInvitation

    customer = factory.SubFactory(CustomerFactory)
    token = factory.Sequence(lambda n: f"token-{n:040d}")
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=14))


class NpsResponseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = NpsResponse

    customer = factory.SubFactory(CustomerFactory)
    score = 9
    answered_at = factory.LazyFunction(timezone.now)


class FollowUpTaskFactory(TaskFactory):
    """A detractor follow-up (a config.Task) in the service queue, about a new detractor answer of `customer`
    (a new customer by default); `about_record=` names another record."""

    class Params:
        customer = factory.SubFactory(CustomerFactory)
        about_record = factory.LazyAttribute(lambda task: NpsResponseFactory(customer=task.customer, score=3))

    title = ""
    kind = TaskKind.DETRACTOR
    assignee = None
    department = "service"
    due_at = factory.LazyFunction(lambda: timezone.now() + timedelta(hours=48))


class InsightFactory(factory.django.DjangoModelFactory):
    """An insight routed from an NPS answer (an insight has exactly one source)."""

    class Meta:
        model = Insight

    nps_response = factory.SubFactory(NpsResponseFactory)
    customer = factory.LazyAttribute(lambda i: i.nps_response.customer)
    tag = InsightTag.PRODUCT
    created_at = factory.LazyFunction(timezone.now)
