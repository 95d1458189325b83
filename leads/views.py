"""Lead pages. Thin: parse the form, call one service or selector, render. Refusals: 403 page, 409/422 form."""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from config.errors import DomainError
from config.pages import error_status, form_error, staff_required
from config.pagination import keyset_page_for
from leads import forms, permissions, selectors, services
from leads.api.filters import LeadFilter
from leads.models import Lead
from leads.stages import ACTION_STAGES, BOARD_STAGES, Stage

staff_only = staff_required(message=gettext_lazy("Leads are for staff of marketing, sales and service."))


def _get_lead(pk: int) -> Lead:
    try:
        return selectors.lead_detail(pk=pk)
    except Lead.DoesNotExist:
        raise Http404(_("No such lead.")) from None


@staff_only
@require_GET
def lead_list(request):
    """Filtered leads, keyset-paginated newest first: no COUNT(*) or OFFSET over the whole result."""
    filterset = LeadFilter(request.GET or None, queryset=selectors.lead_rows(), request=request)
    page, paging = keyset_page_for(request, selectors.row_values(filterset.qs))
    return render(
        request,
        "leads/lead_list.html",
        {
            "leads": selectors.dress_rows(page.rows),
            "filter": filterset,
            "may_create": permissions.can(request.user, permissions.CREATE),
            **paging,
        },
    )


@staff_only
@require_GET
def my_queue(request):
    return render(request, "leads/my_queue.html", {"sections": selectors.my_queue(request.user)})


@staff_only
@require_GET
def pool(request):
    """The sales queue, oldest handoff first (the one waiting longest is claimed first), keyset-paginated."""
    page, paging = keyset_page_for(request, selectors.pool(), order="handed_off_at")
    return render(
        request,
        "leads/pool.html",
        {
            "page": page,
            **paging,
            "may_claim": permissions.can(request.user, permissions.CLAIM),
            "may_assign": permissions.can(request.user, permissions.ASSIGN),
        },
    )


# --- board ---------------------------------------------------------------------------------------------------


def _with_targets(user, cards):
    for card in cards:
        card.move_targets = [(s, Stage(s).label) for s in selectors.move_targets(user, card)]
    return cards


def _board_context(request, query, error: str = ""):
    filterset = LeadFilter(query or None, queryset=selectors.lead_rows(), request=request)
    columns = selectors.board(filterset.qs, per_column=settings.RELAY_BOARD_PAGE_SIZE)
    for column in columns:
        _with_targets(request.user, column.cards)
    return {
        "filter": filterset,
        "columns": columns,
        "board_query": query.urlencode(),
        "board_error": error,
    }


@staff_only
@require_GET
@vary_on_headers("HX-Request")
def board(request):
    context = _board_context(request, request.GET)
    template = "leads/_board.html" if request.htmx else "leads/board.html"
    return render(request, template, context)


@staff_only
@require_GET
def board_column(request, stage: str):
    """ "Load more" for one column: the next cards after `cursor`, and a new "load more" button."""
    if stage not in BOARD_STAGES:
        raise Http404(_("No such stage."))
    query = request.GET.copy()
    cursor = query.pop("cursor", [""])[-1]
    filterset = LeadFilter(query or None, queryset=selectors.lead_rows(), request=request)
    cards, next_cursor = selectors.board_column_page(
        filterset.qs, stage=stage, cursor=cursor, per_column=settings.RELAY_BOARD_PAGE_SIZE
    )
    _with_targets(request.user, cards)
    return render(
        request,
        "leads/_board_cards.html",
        {"cards": cards, "stage": stage, "next_cursor": next_cursor, "board_query": query.urlencode()},
    )


@staff_only
@require_POST
def board_move(request, pk: int):
    """Move a card from the board (htmx): answers the re-rendered board, so both columns' counts update."""
    lead = _get_lead(pk)
    query = QueryDict(request.POST.get("board_query", ""))
    error = ""
    try:
        services.move_lead(
            lead=lead,
            by=request.user,
            stage=request.POST.get("stage", ""),
            expected_stage=request.POST.get("seen_stage"),
        )
    except DomainError as exc:
        error = exc.message
    except PermissionDenied as exc:
        if not request.htmx:
            raise  # a plain form post gets the 403 page
        # e.g. the lead was reassigned since the board was drawn: say so in place, on the redrawn board.
        error = str(exc) or _("Your role does not allow this action on this lead.")
    if not request.htmx:
        if error:
            messages.error(request, error)
        return redirect(f"{_board_url()}?{query.urlencode()}" if query else _board_url())
    # htmx swaps 2xx and 422 only: any refusal (409, 403, 422) comes back as 422 with the redrawn board and
    # the message on top, so the person sees why and the card is back where it really is (see error_status).
    response = render(request, "leads/_board.html", _board_context(request, query, error), status=422 if error else 200)
    if error:
        response["HX-Reswap"] = "outerHTML show:#board:top"  # the card may be far down a column: bring the message
    return response


def _board_url():
    return reverse("leads:board")


# --- create, edit --------------------------------------------------------------------------------------------


@staff_only
def lead_create(request):
    permissions.require(request.user, permissions.CREATE)
    form = forms.LeadCreateForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 422
        if form.is_valid():
            try:
                lead, matched = services.create_lead(by=request.user, contact=form.contact(), **form.package())
            except DomainError as exc:
                form_error(form, exc)
                status = error_status(request, exc)
            else:
                if matched:
                    messages.info(request, _("This contact matched an existing customer; the lead is attached to it."))
                else:
                    messages.success(request, _("Lead created."))
                return redirect("leads:lead-detail", pk=lead.pk)
    return render(request, "leads/lead_form.html", {"form": form, "title": _("New lead")}, status=status)


@staff_only
def lead_edit(request, pk: int):
    lead = _get_lead(pk)
    permissions.require(request.user, permissions.EDIT, lead)
    initial = {
        "source_channel": lead.source_channel,
        "campaign": lead.campaign,
        "tags": [t.name for t in lead.tags.all()],
        "interest": lead.interest,
        "note": lead.note,
        "referred_by": lead.referred_by,
    }
    form = forms.LeadEditForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST":
        status = 422
        if form.is_valid():
            try:
                services.update_lead(lead=lead, by=request.user, **form.cleaned_data)
            except DomainError as exc:
                form_error(form, exc)
                status = error_status(request, exc)
            else:
                messages.success(request, _("Lead saved."))
                return redirect("leads:lead-detail", pk=lead.pk)
    return render(request, "leads/lead_form.html", {"form": form, "lead": lead, "title": _("Edit lead")}, status=status)


# --- the lead page and its actions ---------------------------------------------------------------------------

ACTION_FORMS = {
    "handoff": forms.HandoffForm,
    "reject": forms.RejectForm,
    "move": forms.MoveForm,
    "close": forms.CloseForm,
    "assign": forms.AssignForm,
    "activity": forms.ActivityForm,
}


CARD_ACTIONS = frozenset(ACTION_STAGES)  # the stage-bound actions the "Actions" card draws


def _lead_page(request, lead: Lead, *, bound: dict | None = None, status: int = 200, error: str = ""):
    actions = selectors.allowed_actions(request.user, lead)
    changes = list(lead.stage_changes.all())
    handoff_initial = {
        "source_channel": lead.source_channel,
        "campaign": lead.campaign,
        "tags": [t.name for t in lead.tags.all()],
        "interest": lead.interest,
        "note": lead.note,
    }
    action_forms = {}
    for name, form_class in ACTION_FORMS.items():
        if bound and name in bound:
            action_forms[name] = bound[name]
        elif name == "handoff":
            action_forms[name] = form_class(initial=handoff_initial, prefix=name)
        else:
            action_forms[name] = form_class(prefix=name)
    if "move" in action_forms:
        targets = selectors.move_targets(request.user, lead)
        action_forms["move"].fields["stage"].choices = [(s, Stage(s).label) for s in targets]
    context = {
        "lead": lead,
        "actions": actions,
        # Edit and activities sit elsewhere on the page: without one of these, no empty "Actions" card.
        "has_card_actions": bool(actions & CARD_ACTIONS),
        "forms": action_forms,
        "periods": selectors.stage_periods(changes),
        "cycle": selectors.cycle_time(changes),
        "history": selectors.customer_history(lead),
        "handoff_missing": services.handoff_missing(lead) if lead.stage == Stage.NEW else [],
        "action_error": error,
    }
    return render(request, "leads/lead_detail.html", context, status=status)


@staff_only
@require_GET
def lead_detail(request, pk: int):
    return _lead_page(request, _get_lead(pk))


def _run_action(action: str, lead: Lead, user, data: dict, seen_stage: str | None):
    if action == "handoff":
        return services.handoff_lead(lead=lead, by=user, **data)
    if action == "accept":
        return services.accept_lead(lead=lead, by=user, expected_stage=seen_stage)
    if action == "claim":
        return services.claim_lead(lead=lead, by=user, expected_stage=seen_stage)
    if action == "reject":
        return services.reject_lead(lead=lead, by=user, expected_stage=seen_stage, **data)
    if action == "move":
        return services.move_lead(lead=lead, by=user, expected_stage=seen_stage, **data)
    if action == "close":
        return services.close_lead(lead=lead, by=user, expected_stage=seen_stage, **data)
    if action == "flag":
        return services.flag_high_intent(lead=lead, by=user)
    if action == "assign":
        return services.assign_lead(lead=lead, by=user, **data)
    if action == "activity":
        return services.add_activity(lead=lead, by=user, **data)
    raise Http404


SUCCESS = {
    "handoff": gettext_lazy("Lead handed off."),
    "accept": gettext_lazy("Lead accepted."),
    "claim": gettext_lazy("Lead claimed: it is yours now."),
    "reject": gettext_lazy("Lead rejected and sent back to marketing."),
    "move": gettext_lazy("Lead moved."),
    "close": gettext_lazy("Lead closed."),
    "flag": gettext_lazy("Marketing was told this lead is high intent."),
    "assign": gettext_lazy("Lead assigned."),
    "activity": gettext_lazy("Activity added."),
}


@staff_only
@require_POST
def lead_action(request, pk: int, action: str):
    if action not in SUCCESS:
        raise Http404
    lead = _get_lead(pk)
    form = None
    data: dict = {}
    if action in ACTION_FORMS:
        form = ACTION_FORMS[action](request.POST, prefix=action)
        if not form.is_valid():
            return _lead_page(request, lead, bound={action: form}, status=422)
        data = dict(form.cleaned_data)
        if action == "handoff":
            data["assignee"] = data.pop("assignee", None)
    try:
        _run_action(action, lead, request.user, data, request.POST.get("seen_stage") or None)
    except DomainError as exc:
        status = error_status(request, exc)
        if form is not None:
            form_error(form, exc)
            return _lead_page(request, _get_lead(pk), bound={action: form}, status=status)
        return _lead_page(request, _get_lead(pk), status=status, error=exc.message)
    messages.success(request, str(SUCCESS[action]))
    if request.POST.get("next") == "pool":
        return redirect("leads:pool")
    return redirect("leads:lead-detail", pk=pk)
