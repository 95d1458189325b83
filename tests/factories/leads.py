import factory
from django.utils import timezone

from leads.models import Activity, Lead, LeadStageChange, Tag
from leads.stages import PIPELINE, Stage, further
from tests.factories.customers import ChannelFactory, CustomerFactory, CustomerIdentityFactory
from tests.factories.users import make_user


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tag
        django_get_or_create = ["name"]

    name = factory.Sequence(lambda n: f"tag-{n}")


class LeadFactory(factory.django.DjangoModelFactory):
    """A lead in a stage, with no history. Build history through leads.services (see `lead_through`).

    The customer gets a phone number unless `contact=False`, so a handoff is complete by default.
    """

    class Meta:
        model = Lead
        skip_postgeneration_save = True

    customer = factory.SubFactory(CustomerFactory)
    source_channel = factory.SubFactory(ChannelFactory)
    stage = Stage.NEW
    furthest_stage = factory.LazyAttribute(lambda lead: further(Stage.NEW, lead.stage))
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

    @factory.post_generation
    def contact(self, create, extracted, **kwargs):
        if create and extracted is not False:
            CustomerIdentityFactory(customer=self.customer)


class LeadStageChangeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LeadStageChange

    lead = factory.SubFactory(LeadFactory)
    from_stage = Stage.NEW
    to_stage = Stage.HANDED_OFF
    at = factory.LazyFunction(timezone.now)

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        """Like leads.services: `entered_at` is the `at` of the lead's previous change (by at, id), unless given;
        a change inserted before later ones also becomes the `entered_at` of the next one."""
        explicit = "entered_at" in kwargs
        change = super()._create(model_class, *args, **kwargs)
        if not explicit:
            previous = None
            for row in model_class.objects.filter(lead_id=change.lead_id).order_by("at", "pk"):
                if row.entered_at != previous:
                    model_class.objects.filter(pk=row.pk).update(entered_at=previous)
                previous = row.at
            change.refresh_from_db(fields=["entered_at"])
        # Like leads.services._transition: the lead remembers the furthest stage its history reached.
        lead = model_class.objects.get(pk=change.pk).lead
        reached = further(lead.furthest_stage, change.to_stage)
        if reached != lead.furthest_stage:
            type(lead).objects.filter(pk=lead.pk).update(furthest_stage=reached)
        return change


class ActivityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Activity

    lead = factory.SubFactory(LeadFactory)
    body = "Called, left a message."
    at = factory.LazyFunction(timezone.now)


def lead_through(stage: str, *, marketer=None, owner=None, pool: bool = False, now=None, **lead_kwargs) -> Lead:
    """A lead driven to `stage` through leads.services, so its history is real.

    `marketer` creates and hands off (a new marketing user by default); `owner` (a new sales user by
    default, none with `pool=True` up to handed_off) accepts and works it. Won/lost close it.
    """
    from leads import services

    marketer = marketer or make_user("marketing")
    customer = lead_kwargs.pop("customer", None) or CustomerFactory()
    if lead_kwargs.pop("contact", True):
        CustomerIdentityFactory(customer=customer)
    source_channel = lead_kwargs.pop("source_channel", None) or ChannelFactory()
    lead, _matched = services.create_lead(
        by=marketer, customer=customer, source_channel=source_channel, now=now, **lead_kwargs
    )
    if stage == Stage.NEW:
        return lead
    if owner is None and not pool:
        owner = make_user("sales")
    lead = services.handoff_lead(lead=lead, by=marketer, assignee=None if pool else owner, now=now)
    if stage == Stage.HANDED_OFF:
        return lead
    if pool:
        owner = owner or make_user("sales")
        lead = services.claim_lead(lead=lead, by=owner, now=now)
    else:
        lead = services.accept_lead(lead=lead, by=owner, now=now)
    if stage == Stage.ACCEPTED:
        return lead
    if stage in PIPELINE:
        return services.move_lead(lead=lead, by=owner, stage=stage, now=now)
    if stage == Stage.WON:
        return services.close_lead(lead=lead, by=owner, outcome=Stage.WON, amount="1000.00", now=now)
    if stage == Stage.LOST:
        return services.close_lead(lead=lead, by=owner, outcome=Stage.LOST, reason="price", now=now)
    raise ValueError(stage)
