"""The FilterSets of the marketing lists: the pages and the API use the same ones."""

import django_filters as filters
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from config.filters import IdFilter, MomentFilter, SortFilter, YesNoFilter
from marketing.models import (
    ContentItem,
    ContentStage,
    CustomerEvent,
    Enrolment,
    EnrolmentStatus,
    Journey,
    JourneyStatus,
    Message,
    MessageChannel,
    MessageStatus,
    Touchpoint,
    TouchpointKind,
)


class CustomerEventFilter(filters.FilterSet):
    customer = IdFilter(field_name="customer_id", label=_("Customer"))
    type = filters.CharFilter(field_name="type", label=_("Type"))
    source = filters.CharFilter(field_name="source", label=_("Source"))
    at_after = MomentFilter(field_name="at", lookup_expr="gte", label=_("From"))
    at_before = MomentFilter(field_name="at", lookup_expr="lt", label=_("Before"))

    class Meta:
        model = CustomerEvent
        fields = ["customer", "type", "source"]


class ContentFilter(filters.FilterSet):
    stage = filters.ChoiceFilter(choices=ContentStage.choices, label=_("Stage"))
    language = filters.ChoiceFilter(choices=settings.LANGUAGES, label=_("Language"))
    is_active = YesNoFilter(label=_("Active"))
    q = filters.CharFilter(field_name="title", lookup_expr="icontains", label=_("Title"))

    class Meta:
        model = ContentItem
        fields = ["stage", "language", "is_active", "q"]


class MessageFilter(filters.FilterSet):
    customer = IdFilter(field_name="customer_id", label=_("Customer"))
    journey = IdFilter(field_name="journey_id", label=_("Journey"))
    content = IdFilter(field_name="item_id", label=_("Content"))
    experiment = IdFilter(field_name="experiment_id", label=_("Experiment"))
    status = filters.ChoiceFilter(choices=MessageStatus.choices, label=_("Status"))
    channel = filters.ChoiceFilter(choices=MessageChannel.choices, label=_("Channel"))
    sent_after = MomentFilter(field_name="sent_at", lookup_expr="gte", label=_("Sent from"))
    sent_before = MomentFilter(field_name="sent_at", lookup_expr="lt", label=_("Sent before"))
    # The list's sorts (the page's ?sort=, the API's ?ordering=): marketing_message_sent_idx serves "sent".
    ordering = SortFilter(columns={"id": "id", "sent": "sent_at"}, labels={"id": _("Number"), "sent": _("Sent")})

    class Meta:
        model = Message
        fields = ["customer", "journey", "content", "experiment", "status", "channel"]


class JourneyFilter(filters.FilterSet):
    status = filters.ChoiceFilter(choices=JourneyStatus.choices, label=_("Status"))
    q = filters.CharFilter(field_name="name", lookup_expr="icontains", label=_("Name"))

    class Meta:
        model = Journey
        fields = ["status", "q"]


class EnrolmentFilter(filters.FilterSet):
    """A journey's enrolments (the journey page's list and `journeys/{id}/enrolments/`)."""

    status = filters.ChoiceFilter(choices=EnrolmentStatus.choices, label=_("Status"))
    customer = IdFilter(field_name="customer_id", label=_("Customer"))

    class Meta:
        model = Enrolment
        fields = ["status", "customer"]


class TouchpointFilter(filters.FilterSet):
    """The touchpoints list (the page and `touchpoints/`): a channel by its code, a campaign by its id."""

    customer = IdFilter(field_name="customer_id", label=_("Customer"))
    channel = filters.CharFilter(field_name="channel__code", label=_("Channel"))
    campaign = IdFilter(field_name="campaign_id", label=_("Campaign"))
    kind = filters.ChoiceFilter(choices=TouchpointKind.choices, label=_("Kind"))
    at_after = MomentFilter(field_name="at", lookup_expr="gte", label=_("From"))
    at_before = MomentFilter(field_name="at", lookup_expr="lt", label=_("Before"))

    class Meta:
        model = Touchpoint
        fields = ["customer", "channel", "campaign", "kind"]
