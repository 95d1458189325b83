"""The FilterSets of the feedback lists: the pages and the API use the same ones."""

import django_filters as filters
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from config import roles
from config.filters import IdFilter, MomentFilter, SortFilter, YesNoFilter
from config.models import Task, TaskKind
from customers.identity import normalize_email, normalize_phone
from customers.models import CustomerIdentity
from feedback import statuses
from feedback.models import (
    NPS_BUCKETS,
    Complaint,
    ComplaintCategory,
    ComplaintStatus,
    Insight,
    InsightTag,
    NpsCategory,
    NpsInvitation,
    NpsResponse,
    Severity,
    severity_rank,
)

User = get_user_model()


def _service_staff(request):
    return roles.members(roles.SERVICE)


class ComplaintFilter(filters.FilterSet):
    q = filters.CharFilter(method="search", label=_("Search"))
    status = filters.MultipleChoiceFilter(choices=ComplaintStatus.choices, label=_("Status"))
    severity = filters.MultipleChoiceFilter(choices=Severity.choices, label=_("Severity"))
    category = filters.ChoiceFilter(choices=ComplaintCategory.choices, label=_("Category"))
    owner = filters.ModelChoiceFilter(queryset=_service_staff, label=_("Owner"))
    customer = IdFilter(field_name="customer_id", label=_("Customer"))
    overdue = YesNoFilter(method="filter_overdue", label=_("Overdue"))
    waiting_on_customer = YesNoFilter(
        field_name="waiting_since", lookup_expr="isnull", exclude=True, label=_("Waiting on customer")
    )
    opened_after = MomentFilter(field_name="opened_at", lookup_expr="gte", label=_("Opened from"))
    opened_before = MomentFilter(field_name="opened_at", lookup_expr="lt", label=_("Opened before"))
    # The list's sorts (the page's ?sort=, the API's ?ordering=), each on an index of the complaint table.
    ordering = SortFilter(
        columns={
            "id": "id",
            "opened": "opened_at",
            "severity": severity_rank(),
            "first_response_due": "first_response_due_at",
            "resolution_due": "resolution_due_at",
        },
        labels={
            "id": _("Number"),
            "opened": _("Opened"),
            "severity": _("Severity"),
            "first_response_due": _("First response due"),
            "resolution_due": _("Resolution due"),
        },
    )

    class Meta:
        model = Complaint
        fields = ["q", "status", "severity", "category", "owner", "customer", "overdue"]

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        q = Q(description__icontains=value) | Q(customer__name__icontains=value)
        identities = {v for v in (normalize_phone(value), normalize_email(value)) if v}
        if identities:  # the customer's phone or email, as the complaint form finds them
            q |= Q(customer_id__in=CustomerIdentity.objects.filter(value__in=identities).values("customer_id"))
        if value.lstrip("#").isdigit():
            q |= Q(pk=int(value.lstrip("#")))
        return queryset.filter(q)

    def filter_overdue(self, queryset, name, value):
        if value is None:
            return queryset
        overdue = statuses.complaint_overdue(timezone.now())
        return queryset.filter(overdue) if value else queryset.exclude(overdue)


class NpsResponseFilter(filters.FilterSet):
    category = filters.ChoiceFilter(
        method="filter_category",
        choices=NpsCategory.choices,
        label=_("Category"),
    )
    customer = IdFilter(field_name="customer_id", label=_("Customer"))
    source = filters.CharFilter(field_name="source", label=_("Source"))
    answered_after = MomentFilter(field_name="answered_at", lookup_expr="gte", label=_("From"))
    answered_before = MomentFilter(field_name="answered_at", lookup_expr="lt", label=_("Before"))
    ordering = SortFilter(  # on answered_at's index and feedback_nps_score_idx
        columns={"id": "id", "answered": "answered_at", "score": "score"},
        labels={"id": _("Number"), "answered": _("Answered"), "score": _("Score")},
    )

    class Meta:
        model = NpsResponse
        fields = ["category", "customer", "source"]

    def filter_category(self, queryset, name, value):
        return queryset.filter(NPS_BUCKETS[value]) if value in NPS_BUCKETS else queryset


class NpsInvitationFilter(filters.FilterSet):
    customer = IdFilter(field_name="customer_id", label=_("Customer"))
    answered = YesNoFilter(field_name="answered_at", lookup_expr="isnull", exclude=True, label=_("Answered"))

    class Meta:
        model = NpsInvitation
        fields = ["customer", "answered"]


class FollowUpFilter(filters.FilterSet):
    """The follow-up page's filters over the service follow-ups (config.Task rows of the follow-up kinds)."""

    kind = filters.ChoiceFilter(
        choices=[(kind.value, kind.label) for kind in (TaskKind.ONBOARDING, TaskKind.DETRACTOR)], label=_("Kind")
    )
    done = YesNoFilter(field_name="done_at", lookup_expr="isnull", exclude=True, label=_("Done"))
    owner = filters.ModelChoiceFilter(field_name="assignee", queryset=_service_staff, label=_("Owner"))
    overdue = YesNoFilter(method="filter_overdue", label=_("Overdue"))

    class Meta:
        model = Task
        fields = ["kind", "done", "owner", "overdue"]

    def filter_overdue(self, queryset, name, value):
        if value is None:
            return queryset
        overdue = statuses.follow_up_overdue(timezone.now())
        return queryset.filter(overdue) if value else queryset.exclude(overdue)


class InsightFilter(filters.FilterSet):
    tag = filters.ChoiceFilter(choices=InsightTag.choices, label=_("Tag"))
    acknowledged = YesNoFilter(
        field_name="acknowledged_at", lookup_expr="isnull", exclude=True, label=_("Acknowledged")
    )
    customer = IdFilter(field_name="customer_id", label=_("Customer"))

    class Meta:
        model = Insight
        fields = ["tag", "acknowledged", "customer"]
