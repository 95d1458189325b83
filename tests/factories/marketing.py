"""Factories of marketing's models (one section per part of the app)."""

from datetime import timedelta

import factory
from django.utils import timezone

from marketing.models import (
    ContentItem,
    ContentStage,
    ContentVariant,
    CustomerEvent,
    EventType,
    Experiment,
    ExperimentGoal,
    Journey,
    JourneyStatus,
    JourneyStep,
    Message,
    MessageChannel,
    MessageStatus,
    Touchpoint,
    TouchpointKind,
)
from tests.factories.customers import ChannelFactory, CustomerFactory

# ---------------------------------------------------------------- customer events


class CustomerEventFactory(factory.django.DjangoModelFactory):
    """A bare event row (no activation window, no domain event): record events through the API or
    marketing.services.record_event when the side effects matter."""

    class Meta:
        model = CustomerEvent

    customer = factory.SubFactory(CustomerFactory)
    type = EventType.PAGE_VIEW
    at = factory.LazyFunction(timezone.now)
    source = "web"
    external_id = factory.Sequence(lambda n: f"evt-{n}")
    properties = factory.LazyFunction(dict)


# ---------------------------------------------------------------- content and messages


class ContentItemFactory(factory.django.DjangoModelFactory):
    """An active awareness item allowed to link to https://example.com/offer (no variant: ContentVariantFactory)."""

    class Meta:
        model = ContentItem

    title = factory.Sequence(lambda n: f"Content {n}")
    stage = ContentStage.AWARENESS
    language = "en"
    tags = factory.LazyFunction(list)
    urls = factory.LazyFunction(lambda: ["https://example.com/offer"])


class ContentVariantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ContentVariant

    item = factory.SubFactory(ContentItemFactory)
    key = "A"
    title = factory.Sequence(lambda n: f"Variant title {n}")
    body = "Read more at https://example.com/offer."


class MessageFactory(factory.django.DjangoModelFactory):
    """A bare sent email message row (no email, no rules): send through marketing.sending.send_message when the
    rules matter."""

    class Meta:
        model = Message

    customer = factory.SubFactory(CustomerFactory)
    variant = factory.SubFactory(ContentVariantFactory)
    item = factory.SelfAttribute("variant.item")
    channel = MessageChannel.EMAIL
    status = MessageStatus.SENT
    sent_at = factory.LazyFunction(timezone.now)


class ExperimentFactory(factory.django.DjangoModelFactory):
    """A running click experiment on a new item with variants A and B (`variant_keys=["A", "B", "C"]` for more)."""

    class Meta:
        model = Experiment
        skip_postgeneration_save = True

    item = factory.SubFactory(ContentItemFactory)
    goal = ExperimentGoal.CLICK
    started_at = factory.LazyFunction(timezone.now)

    @factory.post_generation
    def variant_keys(experiment, create, keys, **kwargs):  # noqa: N805
        for key in keys or ("A", "B"):
            ContentVariantFactory(item=experiment.item, key=key, title=f"Variant {key}")


def experiment_messages(experiment, key, *, sent, opened=0, clicked=0, converted=0, at=None, status=None):
    """`sent` messages of the experiment's variant `key` in one INSERT: the first `opened` of them opened, the first
    `clicked` clicked, the first `converted` converted (results count messages: one customer is enough)."""
    variant = experiment.item.variants.get(key=key)
    customer = CustomerFactory()
    status = status or MessageStatus.SENT
    at = at or timezone.now() - timedelta(days=1)
    Message.objects.bulk_create(
        Message(
            customer=customer,
            item=experiment.item,
            variant=variant,
            channel=MessageChannel.EMAIL,
            status=status,
            experiment=experiment,
            sent_at=at if status == MessageStatus.SENT else None,
            opened_at=at if i < opened else None,
            clicked_at=at if i < clicked else None,
            converted_at=at if i < converted else None,
        )
        for i in range(sent)
    )


# ---------------------------------------------------------------- journeys


class JourneyFactory(factory.django.DjangoModelFactory):
    """A draft journey started by sign-ups, with no steps (`JourneyStepFactory(journey=…)`, or create journeys through
    marketing.journeys / the API when the rules matter); `status=JourneyStatus.ACTIVE` for a live one."""

    class Meta:
        model = Journey

    name = factory.Sequence(lambda n: f"Journey {n}")
    trigger = factory.LazyFunction(lambda: {"type": "signed_up"})
    audience = factory.LazyFunction(dict)
    status = JourneyStatus.DRAFT
    activated_at = factory.LazyAttribute(lambda j: timezone.now() if j.status != JourneyStatus.DRAFT else None)


class JourneyStepFactory(factory.django.DjangoModelFactory):
    """A 24-hour wait at the journey's end."""

    class Meta:
        model = JourneyStep

    journey = factory.SubFactory(JourneyFactory)
    position = factory.LazyAttribute(lambda s: s.journey.steps.count())
    kind = "wait"
    config = factory.LazyFunction(lambda: {"hours": 24})


# ---------------------------------------------------------------- touchpoints


class TouchpointFactory(factory.django.DjangoModelFactory):
    """A bare touchpoint row: record touchpoints through the API or marketing.touchpoints when matching or
    deduplication matters."""

    class Meta:
        model = Touchpoint

    customer = factory.SubFactory(CustomerFactory)
    channel = factory.SubFactory(ChannelFactory)
    kind = TouchpointKind.CLICK
    at = factory.LazyFunction(timezone.now)
    external_id = factory.Sequence(lambda n: f"touch-{n}")
