"""The one lead FilterSet: the lead list page, the board and `GET /api/v1/leads/` all use it."""

from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters

from config import roles
from config.filters import DayRangeFilter, IdFilter, MomentFilter, SortFilter, YesNoFilter
from config.pickers import PickerWidget
from customers.models import Campaign, Channel, CustomerIdentity
from leads import stages
from leads.models import Activity, ActivityKind, Lead
from leads.stages import Stage, stage_rank

User = get_user_model()


def _owners(request):
    return roles.members(roles.SALES) if request is not None else User.objects.none()


def _filled(value) -> bool:
    if isinstance(value, list | tuple):
        return any(_filled(item) for item in value)
    return value not in (None, "")


class LeadFilter(filters.FilterSet):
    q = filters.CharFilter(method="filter_q", label=_("Search"))
    customer = IdFilter(field_name="customer_id", label=_("Customer"), widget=PickerWidget("customers"))
    # distinct=False: no filter here joins a to-many relation, and DISTINCT would defeat the board's index scans.
    stage = filters.MultipleChoiceFilter(choices=Stage.choices, label=_("Stage"), distinct=False)
    owner = filters.ModelChoiceFilter(queryset=_owners, label=_("Owner"), widget=PickerWidget("sales-owners"))
    mine = YesNoFilter(method="filter_mine", label=_("Mine only"))
    pool = YesNoFilter(method="filter_pool", label=_("In the pool"))
    tag = filters.CharFilter(method="filter_tag", label=_("Tag"))
    channel = filters.ModelChoiceFilter(
        field_name="source_channel",
        queryset=Channel.objects.only("id", "code", "name"),
        to_field_name="code",
        label=_("Channel"),
    )
    campaign = filters.ModelChoiceFilter(
        queryset=Campaign.objects.only("id", "name"), label=_("Campaign"), widget=PickerWidget("campaigns")
    )
    created = DayRangeFilter(field_name="created_at", label=_("Created"))
    closed = DayRangeFilter(field_name="closed_at", label=_("Closed"))
    high_intent = YesNoFilter(field_name="is_high_intent", label=_("High intent"))
    sla_breached = YesNoFilter(method="filter_sla_breached", label=_("SLA breached"))
    referred_by = filters.ModelChoiceFilter(
        queryset=User.objects.filter(is_active=True), label=_("Referred by"), widget=PickerWidget("staff")
    )
    # The list's sorts (the page's ?sort=, the API's ?ordering=), each on an index of the lead table.
    ordering = SortFilter(
        columns={"id": "id", "created": "created_at", "updated": "updated_at", "stage": stage_rank()},
        labels={"id": _("Number"), "created": _("Created"), "updated": _("Updated"), "stage": _("Stage")},
    )

    class Meta:
        model = Lead
        fields = []

    @property
    def is_active(self) -> bool:
        """Whether any filter has a value (the pages then show the filter form open, even on a phone)."""
        return self.is_bound and any(_filled(field.value()) for field in self.form.visible_fields())

    def filter_q(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        identity = CustomerIdentity.objects.filter(customer_id=OuterRef("customer_id"), value__icontains=value)
        match = (
            Q(customer__name__icontains=value)
            | Q(customer__company__icontains=value)
            | Q(interest__icontains=value)
            | Q(Exists(identity))
        )
        if value.isdigit():
            match |= Q(pk=int(value))
        return queryset.filter(match)

    def filter_mine(self, queryset, name, value):
        user = getattr(self.request, "user", None)
        if value is None or user is None:
            return queryset
        return queryset.filter(owner=user) if value else queryset.exclude(owner=user)

    def filter_pool(self, queryset, name, value):
        if value is None:
            return queryset
        return queryset.filter(stages.POOL) if value else queryset.exclude(stages.POOL)

    def filter_tag(self, queryset, name, value: str):
        # Tag names are unique, so the join adds at most one row per lead: no DISTINCT needed.
        value = value.strip()
        return queryset.filter(tags__name__iexact=value) if value else queryset

    def filter_sla_breached(self, queryset, name, value):
        if value is None:
            return queryset
        breached = stages.sla_breached(timezone.now())
        return queryset.filter(breached) if value else queryset.exclude(breached)


class ActivityFilter(filters.FilterSet):
    """`GET /api/v1/activities/`: by lead, kind, who and when (each on an index of the activity table)."""

    lead = IdFilter(field_name="lead_id", label=_("Lead"))
    kind = filters.ChoiceFilter(choices=ActivityKind.choices, label=_("Kind"))
    by = IdFilter(field_name="by_id", label=_("By"))
    at_after = MomentFilter(field_name="at", lookup_expr="gte", label=_("From"))
    at_before = MomentFilter(field_name="at", lookup_expr="lt", label=_("Before"))

    class Meta:
        model = Activity
        fields = []
