"""Feedback pages: thin views over feedback.services and feedback.selectors."""

from datetime import timedelta

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.cache import patch_vary_headers
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_GET, require_POST

from config import about, lists, spreadsheet
from config.errors import DomainError
from config.pages import error_status, form_error, staff_required
from config.pagination import keyset_page_for
from customers import selectors as customer_selectors
from feedback import forms, permissions, selectors, services, statuses
from feedback.api.filters import ComplaintFilter, FollowUpFilter, InsightFilter, NpsResponseFilter
from feedback.models import Complaint, ComplaintStatus, Insight, NpsResponse


def _page(request, qs, order: str) -> dict:
    """The list's keyset page as `page` (the rows), with `querystring`, `next_url` and `previous_url`."""
    page, paging = keyset_page_for(request, qs, order=order)
    return {"page": page, **paging}


# ---------------------------------------------------------------- complaints


COMPLAINT_COLUMNS = [
    lists.Column("#", "id", descending=True),
    lists.Column(gettext_lazy("Customer")),
    lists.Column(gettext_lazy("Category")),
    lists.Column(gettext_lazy("Severity"), "severity", descending=True),
    lists.Column(gettext_lazy("Status")),
    lists.Column(gettext_lazy("Owner")),
    lists.Column(gettext_lazy("First response due"), "first_response_due"),
    lists.Column(gettext_lazy("Resolution due"), "resolution_due"),
]
COMPLAINT_LIST_ORDER = "-opened"  # the newest first


def _filtered(request, filterset_class, base, *, default: str):
    """The list's FilterSet (its errors shown over the whole list), its rows and their sort (config.lists)."""
    filterset = filterset_class(request.GET or None, queryset=base, request=request)
    qs = filterset.qs if filterset.is_bound and filterset.is_valid() else base
    qs, sorting = lists.sorted_rows(request, filterset_class, qs, default=default)
    return filterset, qs, sorting


@staff_required
@require_GET
def complaint_list(request):
    filterset, qs, sorting = _filtered(request, ComplaintFilter, selectors.complaints(), default=COMPLAINT_LIST_ORDER)
    return render(
        request,
        "feedback/complaint_list.html",
        {
            **_page(request, qs, order=sorting.order),
            "filter": filterset,
            "now": timezone.now(),
            "can_create": permissions.can(request.user, "complaint.create"),
            **lists.list_context(
                request,
                key="complaints",
                sorting=sorting,
                columns=COMPLAINT_COLUMNS,
                export_url=reverse("feedback:complaint-export"),
            ),
        },
    )


@staff_required
@require_GET
def complaint_export(request):
    """The complaint list as CSV with the page's filters and sort, streamed (one query)."""
    _filterset, qs, sorting = _filtered(request, ComplaintFilter, selectors.complaints(), default=COMPLAINT_LIST_ORDER)
    return spreadsheet.streaming_response(
        header=selectors.COMPLAINT_EXPORT_HEADER,
        rows=selectors.complaint_export_rows(lists.in_order(qs, sorting)),
        filename="complaints.csv",
    )


@staff_required
@require_GET
def my_complaints(request):
    return render(
        request,
        "feedback/my_complaints.html",
        # The most urgent first: the queue's order is the resolution due time.
        {**_page(request, selectors.my_complaints(request.user), order="resolution_due_at"), "now": timezone.now()},
    )


@staff_required
def complaint_create(request):
    permissions.require(request.user, "complaint.create")
    form = forms.ComplaintForm(request.POST or None, initial={"owner": request.user.pk})
    status = 422 if form.is_bound else 200
    if request.method == "POST" and form.is_valid():
        try:
            complaint = services.create_complaint(by=request.user, **form.cleaned_data)
        except DomainError as exc:
            form_error(form, exc)
            status = error_status(request, exc)
        else:
            messages.success(request, _("Complaint #%(id)s logged.") % {"id": complaint.pk})
            return redirect("feedback:complaint-detail", pk=complaint.pk)
    customer = form.cleaned_data.get("customer") if form.is_bound and hasattr(form, "cleaned_data") else None
    return render(
        request,
        "feedback/complaint_form.html",
        {"form": form, "customer": customer},
        status=status if form.is_bound and form.errors else 200,
    )


def _panel_context(request, complaint: Complaint, **extra) -> dict:
    user = request.user
    can_act = permissions.can(user, "complaint.transition", complaint)
    return {
        "complaint": complaint,
        "next_statuses": [(s, ComplaintStatus(s).label) for s in statuses.allowed(complaint.status)] if can_act else [],
        "can_pause": permissions.can(user, "complaint.pause", complaint) and complaint.status in statuses.ACTIVE,
        "can_assign": permissions.can(user, "complaint.assign", complaint),
        "can_reassign": permissions.can(user, "complaint.assign", None),
        "can_route": permissions.can(user, "insight.create"),
        "transition_form": extra.pop("transition_form", None) or forms.TransitionForm(),
        "assign_form": extra.pop("assign_form", None) or forms.AssignForm(initial={"owner": complaint.owner_id}),
        "insight_form": extra.pop("insight_form", None) or forms.InsightForm(),
        "now": timezone.now(),
        **extra,
    }


def _render_panel(request, complaint_pk: int, status: int = 200, **extra):
    complaint = selectors.complaint_detail(pk=complaint_pk)
    context = _panel_context(request, complaint, **extra)
    template = "feedback/_complaint_panel.html" if request.htmx else "feedback/complaint_detail.html"
    response = render(request, template, context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


@staff_required
@require_GET
def complaint_detail(request, pk: int):
    try:
        return _render_panel(request, pk)
    except Complaint.DoesNotExist:
        raise Http404 from None


def _complaint_or_404(pk: int) -> Complaint:
    return get_object_or_404(Complaint, pk=pk)


@staff_required
@require_POST
def complaint_transition(request, pk: int):
    complaint = _complaint_or_404(pk)
    permissions.require(request.user, "complaint.transition", complaint)
    form = forms.TransitionForm(request.POST)
    if form.is_valid():
        try:
            services.transition_complaint(complaint=complaint, by=request.user, **form.cleaned_data)
        except DomainError as exc:
            form_error(form, exc)
            return _render_panel(request, pk, status=error_status(request, exc), transition_form=form)
        if not request.htmx:
            return redirect("feedback:complaint-detail", pk=pk)
        return _render_panel(request, pk)
    return _render_panel(request, pk, status=422, transition_form=form)


@staff_required
@require_POST
def complaint_pause(request, pk: int):
    complaint = _complaint_or_404(pk)
    permissions.require(request.user, "complaint.pause", complaint)
    form = forms.PauseForm(request.POST)
    form.is_valid()
    try:
        services.set_waiting_on_customer(
            complaint=complaint,
            by=request.user,
            waiting=form.cleaned_data.get("waiting", False),
            note=form.cleaned_data.get("note", ""),
        )
    except DomainError as exc:
        return _render_panel(request, pk, status=error_status(request, exc), pause_error=exc.message)
    if not request.htmx:
        return redirect("feedback:complaint-detail", pk=pk)
    return _render_panel(request, pk)


@staff_required
@require_POST
def complaint_assign(request, pk: int):
    complaint = _complaint_or_404(pk)
    permissions.require(request.user, "complaint.assign", complaint)
    form = forms.AssignForm(request.POST)
    if form.is_valid():
        try:
            services.assign_complaint(complaint=complaint, by=request.user, owner=form.cleaned_data["owner"])
        except DomainError as exc:
            form_error(form, exc)
            return _render_panel(request, pk, status=error_status(request, exc), assign_form=form)
        if not request.htmx:
            return redirect("feedback:complaint-detail", pk=pk)
        return _render_panel(request, pk)
    return _render_panel(request, pk, status=422, assign_form=form)


@staff_required
@require_POST
def complaint_insight(request, pk: int):
    complaint = _complaint_or_404(pk)
    permissions.require(request.user, "insight.create")
    form = forms.InsightForm(request.POST)
    if form.is_valid():
        services.route_insight(by=request.user, complaint=complaint, **form.cleaned_data)
        if not request.htmx:
            messages.success(request, _("Routed to marketing."))
            return redirect("feedback:complaint-detail", pk=pk)
        return _render_panel(request, pk)
    return _render_panel(request, pk, status=422, insight_form=form)


@staff_required
@require_GET
def customer_search(request):
    """htmx: the customer picker's options for ?q= (phone, email or name)."""
    name = request.GET.get("field", "customer")
    response = render(
        request,
        "feedback/_customer_options.html",
        {
            "customers": customer_selectors.customer_search(request.GET.get("q", "")),
            "field": name,
            "q": request.GET.get("q", ""),
        },
    )
    patch_vary_headers(response, ["HX-Request"])
    return response


# ---------------------------------------------------------------- NPS


NPS_COLUMNS = [
    lists.Column(gettext_lazy("Answered"), "answered", descending=True),
    lists.Column(gettext_lazy("Customer")),
    lists.Column(gettext_lazy("Score"), "score"),
    lists.Column(gettext_lazy("Comment")),
    lists.Column(gettext_lazy("Source")),
    lists.Column(gettext_lazy("Follow-up")),
]
NPS_LIST_ORDER = "-answered"


@staff_required
@require_GET
def nps_export(request):
    """The NPS answers as CSV with the page's filters and sort, streamed (one query)."""
    _filterset, qs, sorting = _filtered(request, NpsResponseFilter, selectors.nps_responses(), default=NPS_LIST_ORDER)
    return spreadsheet.streaming_response(
        header=selectors.NPS_EXPORT_HEADER,
        rows=selectors.nps_export_rows(lists.in_order(qs, sorting)),
        filename="nps-responses.csv",
    )


@staff_required
def nps_list(request):
    can_enter = permissions.can(request.user, "nps.create")
    form = forms.NpsResponseForm(request.POST or None)
    status = 200
    if request.method == "POST":
        permissions.require(request.user, "nps.create")
        status = 422
        if form.is_valid():
            try:
                response = services.record_nps_response(by=request.user, **form.cleaned_data)
            except DomainError as exc:
                form_error(form, exc)
                status = error_status(request, exc)
            else:
                messages.success(
                    request,
                    _("NPS answer %(score)s recorded (%(category)s).")
                    % {"score": response.score, "category": response.category},
                )
                return redirect("feedback:nps-list")
    filterset, qs, sorting = _filtered(request, NpsResponseFilter, selectors.nps_responses(), default=NPS_LIST_ORDER)
    now = timezone.now()
    counts = selectors.nps_counts(now - timedelta(days=90), now)
    return render(
        request,
        "feedback/nps_list.html",
        {
            **_page(request, qs, order=sorting.order),
            **lists.list_context(
                request, key="nps", sorting=sorting, columns=NPS_COLUMNS, export_url=reverse("feedback:nps-export")
            ),
            "filter": filterset,
            "form": form if can_enter else None,
            "customer": form.cleaned_data.get("customer") if form.is_bound and hasattr(form, "cleaned_data") else None,
            "counts": counts,
            "score": selectors.nps_score(counts),
            "can_invite": permissions.can(request.user, "invitation.create"),
            "can_route": permissions.can(request.user, "insight.create"),
            "insight_form": forms.InsightForm(),
        },
        status=status,
    )


@staff_required
@require_POST
def nps_insight(request, pk: int):
    response = get_object_or_404(NpsResponse, pk=pk)
    permissions.require(request.user, "insight.create")
    form = forms.InsightForm(request.POST)
    if form.is_valid():
        services.route_insight(by=request.user, nps_response=response, **form.cleaned_data)
        messages.success(request, _("Routed to marketing."))
    else:
        messages.error(request, _("Choose a tag."))
    return redirect("feedback:nps-list")


@staff_required
def invitation_list(request):
    can_invite = permissions.can(request.user, "invitation.create")
    single = forms.InvitationForm(prefix="one")
    bulk = forms.BulkInvitationForm(prefix="bulk")
    status = 200
    if request.method == "POST":
        permissions.require(request.user, "invitation.create")
        if "bulk" in request.POST:
            bulk = forms.BulkInvitationForm(request.POST, prefix="bulk")
            if bulk.is_valid():
                data = dict(bulk.cleaned_data)
                language = data.pop("language")
                customers = selectors.invitation_candidates(**data)
                made = services.create_invitations(by=request.user, customers=customers, language=language)
                messages.success(
                    request,
                    ngettext("%(count)d invitation queued.", "%(count)d invitations queued.", len(made))
                    % {"count": len(made)},
                )
                return redirect("feedback:invitation-list")
        else:
            single = forms.InvitationForm(request.POST, prefix="one")
            if single.is_valid() and single.cleaned_data["customer"] is None:
                single.add_error("customer", _("Find and choose the customer."))
            if single.is_valid():
                made = services.create_invitations(
                    by=request.user,
                    customers=[single.cleaned_data["customer"]],
                    language=single.cleaned_data["language"],
                )
                if made:
                    messages.success(request, _("Invitation queued."))
                    return redirect("feedback:invitation-list")
                single.add_error("customer", _("This customer has no valid email address."))
        status = 422
    return render(
        request,
        "feedback/invitation_list.html",
        {
            **_page(request, selectors.nps_invitations(), order="-pk"),  # created_at is auto_now_add: pk order
            "single": single if can_invite else None,
            "bulk": bulk if can_invite else None,
            "now": timezone.now(),
        },
        status=status,
    )


# ---------------------------------------------------------------- follow-ups


@staff_required
@require_GET
def follow_up_list(request):
    """The service follow-ups (onboarding and detractor tasks) of everyone, open ones by default, soonest due first."""
    data = request.GET.copy()
    if "done" not in data:
        data["done"] = "false"
    filterset = FollowUpFilter(data, queryset=selectors.follow_ups(), request=request)
    qs = filterset.qs if filterset.is_valid() else selectors.follow_ups()
    context = _page(request, qs, order="due_at")  # the queue: the soonest due first
    context["page"].rows = about.attach(context["page"].rows)
    return render(request, "feedback/follow_up_list.html", {**context, "filter": filterset, "now": timezone.now()})


@staff_required
@require_GET
def follow_up_detail(request, pk: int):
    """A follow-up is a task now (same id): old links land on its task page."""
    return redirect("tasks:task-detail", pk=pk, permanent=True)


@staff_required
@require_GET
def nps_detail(request, pk: int):
    """Where a task about an NPS answer links to: the NPS list, showing the customer's answers."""
    response = get_object_or_404(NpsResponse.objects.only("pk", "customer_id"), pk=pk)
    return redirect(f"{reverse('feedback:nps-list')}?{urlencode({'customer': response.customer_id})}")


# ---------------------------------------------------------------- insights


@staff_required
@require_GET
def insight_list(request):
    filterset = InsightFilter(request.GET or None, queryset=selectors.insights(), request=request)
    qs = filterset.qs if filterset.is_bound and filterset.is_valid() else selectors.insights()
    return render(
        request,
        "feedback/insight_list.html",
        {
            **_page(request, qs, order="-created_at"),
            "filter": filterset,
            "can_ack": permissions.can(request.user, "insight.acknowledge"),
        },
    )


@staff_required
@require_POST
def insight_acknowledge(request, pk: int):
    insight = get_object_or_404(Insight, pk=pk)
    services.acknowledge_insight(insight=insight, by=request.user)
    return redirect("feedback:insight-list")


# ---------------------------------------------------------------- public survey (no login)


@never_cache
@csrf_protect
def survey(request, token: str):
    """The customer's NPS page. Shows the question only; a wrong token is 404, a used or expired one 410."""
    invitation = services.find_invitation(token)
    if invitation is None:
        return render(request, "feedback/survey_closed.html", {"reason": "unknown"}, status=404)
    with translation.override(invitation.language):
        now = timezone.now()
        if invitation.answered_at is not None:
            return render(request, "feedback/survey_closed.html", {"reason": "answered"}, status=410)
        if invitation.expires_at <= now:
            return render(request, "feedback/survey_closed.html", {"reason": "expired"}, status=410)
        form = forms.SurveyForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                services.answer_survey(token=token, **form.cleaned_data)
            except DomainError as exc:
                reason = "answered" if exc.code == "already_answered" else "expired"
                return render(
                    request, "feedback/survey_closed.html", {"reason": reason}, status=error_status(request, exc)
                )
            return render(request, "feedback/survey_thanks.html")
        return render(
            request,
            "feedback/survey.html",
            {"form": form, "scores": range(11)},
            status=422 if form.is_bound else 200,
        )
