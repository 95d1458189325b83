import factory
from django.utils import timezone

from leads.models import Activity, Lead, LeadStageChange, Tag
from leads.stages import Stage
from tests.factories.customers import ChannelFactory, CustomerFactory
from tests.factories.users import make_user


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tag
        django_get_or_create = ["name"]

    name = factory.Sequence(lambda n: f"tag-{n}")


class LeadFactory(factory.django.DjangoModelFactory):
    """A lead in a stage, with no history. Build history through leads.services in tests that need it."""

    class Meta:
        model = Lead

    customer = factory.SubFactory(CustomerFactory)
    source_channel = factory.SubFactory(ChannelFactory)
    stage = Stage.NEW
    interest = "Product demo"

    class Params:
        handed_off = factory.Trait(
            stage=Stage.HANDED_OFF,
            handed_off_at=factory.LazyFunction(timezone.now),
            first_handed_off_at=factory.LazyFunction(timezone.now),
        )
        accepted = factory.Trait(
            stage=Stage.ACCEPTED,
            owner=factory.LazyFunction(lambda: make_user("sales")),
            accepted_at=factory.LazyFunction(timezone.now),
        )


class LeadStageChangeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LeadStageChange

    lead = factory.SubFactory(LeadFactory)
    from_stage = Stage.NEW
    to_stage = Stage.HANDED_OFF
    at = factory.LazyFunction(timezone.now)


class ActivityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Activity

    lead = factory.SubFactory(LeadFactory)
    body = "Called, left a message."
    at = factory.LazyFunction(timezone.now)
