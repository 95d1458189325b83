"""Lead pages. Thin: parse the form, call one service or selector, render. Refusals: 403 page, 409/422 form."""

import json

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from config import lists, spreadsheet, todo
from config.errors import DomainError
from config.pages import error_status, form_error, staff_required
from config.pagination import keyset_page_for
from leads import forms, permissions, selectors, services
from leads.api.filters import LeadFilter
from leads.models import Lead
from leads.stages import ACTION_STAGES, BOARD_STAGES, Stage, ensure_action

staff_only = staff_required(message=gettext_lazy("Leads are for staff of marketing, sales and service."))


def _get_lead(pk: int) -> Lead:
    try:
        return selectors.lead_detail(pk=pk)
    except Lead.DoesNotExist:
        raise Http404(_("No such lead.")) from None


# The lead list's columns (templates/leads/_lead_table.html) and the sorts of LeadFilter.ordering they offer.
LEAD_COLUMNS = [
    lists.Column("#", "id", descending=True),
    lists.Column(gettext_lazy("Customer")),
    lists.Column(gettext_lazy("Stage"), "stage"),
    lists.Column(gettext_lazy("Owner")),
    lists.Column(gettext_lazy("Channel")),
    lists.Column(gettext_lazy("Tags")),
    lists.Column(gettext_lazy("Created"), "created", descending=True),
    lists.Column(gettext_lazy("Updated"), "updated", descending=True),
]
LEAD_LIST_ORDER = "-id"  # newest first


def _lead_list_rows(request, queryset_of=lambda qs: qs):
    """The list's filters (LeadFilter) and sort (`?sort=`) applied: (filterset, rows, sorting)."""
    filterset = LeadFilter(request.GET or None, queryset=selectors.lead_rows(), request=request)
    rows, sorting = lists.sorted_rows(request, LeadFilter, queryset_of(filterset.qs), default=LEAD_LIST_ORDER)
    return filterset, rows, sorting


@staff_only
@require_GET
def lead_list(request):
    """Filtered leads in the chosen order, keyset-paginated: no COUNT(*) or OFFSET over the whole result. Marketing
    hands off, a sales manager assigns, the leads ticked on the page (lead_bulk)."""
    filterset, rows, sorting = _lead_list_rows(request, selectors.row_values)
    page, paging = keyset_page_for(request, rows, order=sorting.order)
    may_handoff = permissions.can(request.user, permissions.HANDOFF)
    may_assign = permissions.can(request.user, permissions.ASSIGN)
    return render(
        request,
        "leads/lead_list.html",
        {
            "leads": selectors.dress_rows(page.rows),
            "filter": filterset,
            "may_create": permissions.can(request.user, permissions.CREATE),
            **paging,
            **lists.list_context(
                request, key="leads", sorting=sorting, columns=LEAD_COLUMNS, export_url=reverse("leads:lead-export")
            ),
            "bulk_form": forms.BulkForm() if may_handoff or may_assign else None,
            "may_bulk_handoff": may_handoff,
            "may_bulk_assign": may_assign,
        },
    )


@staff_only
@require_GET
def lead_export(request):
    """The lead list as CSV with the page's filters and sort: every lead, streamed, in one query."""
    _filterset, rows, sorting = _lead_list_rows(request)
    return spreadsheet.streaming_response(
        header=selectors.EXPORT_HEADER,
        rows=selectors.export_rows(lists.in_order(rows, sorting)),
        filename="leads.csv",
    )


BULK_DONE = {
    forms.BulkForm.HANDOFF: lambda n: ngettext("%(count)s lead handed off.", "%(count)s leads handed off.", n),
    forms.BulkForm.ASSIGN: lambda n: ngettext("%(count)s lead assigned.", "%(count)s leads assigned.", n),
}


@staff_only
@require_POST
def lead_bulk(request):
    """Hand off (marketing) or assign (a sales manager) the leads ticked on the list, in one transaction: each lead
    as its own page would (leads.services.handoff_leads, assign_leads). All done: back to the list with how many;
    else a page that lists each refused lead with the reason. Nothing of a refused lead is written."""
    back = QueryDict(request.POST.get("back", "")).urlencode()
    list_url = reverse("leads:lead-list") + (f"?{back}" if back else "")
    form = forms.BulkForm(request.POST)
    if not form.is_valid():
        return render(request, "leads/bulk_result.html", {"form": form, "list_url": list_url}, status=422)
    data = form.cleaned_data
    if data["action"] == forms.BulkForm.HANDOFF:
        outcome = services.handoff_leads(lead_ids=data["lead_ids"], by=request.user, assignee=data["assignee"])
    else:
        outcome = services.assign_leads(lead_ids=data["lead_ids"], by=request.user, owner=data["owner"])
    done = BULK_DONE[data["action"]](len(outcome.done)) % {"count": len(outcome.done)}
    if not outcome.refused:
        messages.success(request, done)
        return redirect(list_url)
    refused = [
        {"pk": pk, "reason": reason, "url": reverse("leads:lead-detail", args=[pk])} for pk, reason in outcome.refused
    ]
    context = {"done": done, "done_count": len(outcome.done), "refused": refused, "list_url": list_url}
    return render(request, "leads/bulk_result.html", context)


@staff_only
@require_GET
def my_queue(request):
    sections, paging = selectors.my_queue(request.user), {}
    for section in sections:
        if section.page_order:  # one paged section: keyset pages, no COUNT(*)
            page, paging = keyset_page_for(request, section.rows, order=section.page_order)
            section.leads = selectors.dress_rows(page.rows)
    return render(request, "leads/my_queue.html", {"sections": sections, **paging})


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

# What the board's close dialog asks for each outcome (the fields of forms.CloseForm it shows).
CLOSE_FIELDS = {Stage.WON: ("amount",), Stage.LOST: ("reason", "reason_text")}


def _with_targets(user, cards):
    """What each card offers this user: the stages its menu moves it to and the columns it may be dropped on,
    won and lost (the close dialog), and whether they may set its deal value. No query: groups are cached."""
    for card in cards:
        moves = selectors.move_targets(user, card)
        closes = selectors.close_targets(user, card)
        card.move_targets = [(s, Stage(s).label) for s in moves]
        card.close_targets = [(s, Stage(s).label) for s in closes]
        card.drop_targets = " ".join([*moves, *closes])
        card.may_set_value = permissions.can(user, permissions.SET_DEAL_VALUE, card)
    return cards


def _board_filter(request, query) -> LeadFilter:
    return LeadFilter(query or None, queryset=selectors.lead_rows(), request=request)


def _board_context(request, query, error: str = ""):
    filterset = _board_filter(request, query)
    columns = selectors.board(filterset.qs, per_column=settings.RELAY_BOARD_PAGE_SIZE)
    for column in columns:
        _with_targets(request.user, column.cards)
    return {
        "filter": filterset,
        "columns": columns,
        "board_query": query.urlencode(),
        "board_error": error,
        "currency": settings.RELAY_CURRENCY,
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
    cards, next_cursor = selectors.board_column_page(
        _board_filter(request, query).qs, stage=stage, cursor=cursor, per_column=settings.RELAY_BOARD_PAGE_SIZE
    )
    _with_targets(request.user, cards)
    return render(
        request,
        "leads/_board_cards.html",
        {"cards": cards, "stage": stage, "next_cursor": next_cursor, "board_query": query.urlencode()},
    )


def _board_lead(pk: int) -> Lead:
    try:
        return selectors.board_lead(pk=pk)
    except Lead.DoesNotExist:
        raise Http404(_("No such lead.")) from None


def _board_refused(request, query, message: str):
    """A refusal shown in place: the board redrawn (the card back where it really is) with the message on top.

    htmx swaps 2xx and 422 only: any refusal (409, 403, 422) comes back as 422, so the person sees why (see
    config.pages.error_status). A plain form post goes back to the board with the message.
    """
    if not request.htmx:
        messages.error(request, message)
        return redirect(_board_url(query))
    response = render(request, "leads/_board.html", _board_context(request, query, message), status=422)
    response["HX-Retarget"] = "#board"  # the close dialog's form targets the dialog
    response["HX-Reswap"] = "outerHTML show:#board:top"  # the card may be far down a column: bring the message
    response["HX-Trigger-After-Settle"] = json.dumps({"relay:board-refused": {}})  # static/js/board.js
    return response


def _board_moved(request, query, *, pk: int, from_stage: str, to_stage: str, message: str):
    """After a move or a close. htmx: the two columns' headers (count, total, weighted), the card gone from its old
    column and on top of its new one (unless the board's filter leaves it out), the message for the live region;
    the rest of the board stays as it is (its scroll positions, the cards "show more" added). A plain form post
    goes back to the board at the card."""
    if not request.htmx:
        messages.success(request, message)
        return redirect(f"{_board_url(query)}#lead-card-{pk}")
    filterset = _board_filter(request, query)
    card = selectors.board_card(filterset.qs, pk=pk)
    if card is not None:
        _with_targets(request.user, [card])
    context = {
        "heads": selectors.board_heads(filterset.qs, stages=(from_stage, to_stage)),
        "card": card,
        "pk": pk,
        "message": message,
        "board_query": query.urlencode(),
    }
    response = render(request, "leads/_board_moved.html", context)
    response["HX-Reswap"] = "none"  # only the out-of-band parts swap
    response["HX-Trigger-After-Settle"] = json.dumps({"relay:card-moved": {"lead": pk, "stage": to_stage}})
    return response


@staff_only
@require_POST
def board_move(request, pk: int):
    """Move a card from the board: its "Move to…" menu, a drop or an arrow key (static/js/board.js clicks the
    menu's button). Refusals come back in place (see _board_refused)."""
    lead = _board_lead(pk)
    query = QueryDict(request.POST.get("board_query", ""))
    stage = request.POST.get("stage", "")
    seen_stage = request.POST.get("seen_stage") or lead.stage
    try:
        services.move_lead(lead=lead, by=request.user, stage=stage, expected_stage=seen_stage)
    except DomainError as exc:
        return _board_refused(request, query, exc.message)
    except PermissionDenied as exc:
        if not request.htmx:
            raise  # a plain form post gets the 403 page
        # e.g. the lead was reassigned since the board was drawn: say so in place, on the redrawn board.
        return _board_refused(request, query, str(exc) or _("Your role does not allow this action on this lead."))
    message = _("Lead #%(id)s moved to %(stage)s.") % {"id": pk, "stage": Stage(stage).label}
    return _board_moved(request, query, pk=pk, from_stage=seen_stage, to_stage=stage, message=message)


def _close_dialog(request, lead: Lead, form, outcome: str, query, *, seen_stage: str, status: int = 200):
    context = {
        "lead": lead,
        "form": form,
        "outcome": outcome,
        "fields": [form[name] for name in CLOSE_FIELDS[outcome]],
        "seen_stage": seen_stage,
        "board_query": query.urlencode(),
        "in_dialog": bool(request.htmx),
    }
    template = "leads/_board_close.html" if request.htmx else "leads/board_close.html"
    return render(request, template, context, status=status)


@staff_only
@require_http_methods(["GET", "POST"])
@vary_on_headers("HX-Request")
def board_close(request, pk: int):
    """Won or lost from the board: the dialog's form (htmx; without JavaScript, a page of its own) asks the won
    amount (the deal value to start with) or the lost reason, and posts to services.close_lead as the lead page
    does. Bad input stays in the dialog (422); any other refusal redraws the board with its message."""
    lead = _board_lead(pk)
    data = request.POST if request.method == "POST" else request.GET
    query = QueryDict(data.get("board_query", ""))
    outcome = data.get("outcome", "")
    if outcome not in CLOSE_FIELDS:
        raise Http404(_("No such outcome."))
    seen_stage = data.get("seen_stage") or lead.stage
    form = forms.CloseForm(initial={"outcome": outcome, "amount": lead.deal_value})
    status = 200
    try:
        if request.method == "GET":  # draw the form only where the close may go
            permissions.require(request.user, permissions.CLOSE, lead)
            ensure_action("close", lead.stage)
        else:
            form, status = forms.CloseForm(request.POST), 422
            if form.is_valid():
                services.close_lead(lead=lead, by=request.user, expected_stage=seen_stage, **form.cleaned_data)
                won = outcome == Stage.WON
                message = (_("Lead #%(id)s closed as won.") if won else _("Lead #%(id)s closed as lost.")) % {"id": pk}
                return _board_moved(request, query, pk=pk, from_stage=seen_stage, to_stage=outcome, message=message)
    except DomainError as exc:
        if exc.field not in CLOSE_FIELDS[outcome]:
            return _board_refused(request, query, exc.message)
        form_error(form, exc)  # a missing or bad amount or reason: said in the dialog
    except PermissionDenied as exc:
        if not request.htmx:
            raise
        return _board_refused(request, query, str(exc) or _("Your role does not allow this action on this lead."))
    return _close_dialog(request, lead, form, outcome, query, seen_stage=seen_stage, status=status)


def _board_url(query=None) -> str:
    url = reverse("leads:board")
    return f"{url}?{query.urlencode()}" if query else url


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
    # Whoever may edit the package edits it all; sales working the lead edits its deal value alone.
    package = permissions.can(request.user, permissions.EDIT, lead)
    if not package:
        permissions.require(request.user, permissions.SET_DEAL_VALUE, lead)
    initial = {
        "source_channel": lead.source_channel,
        "campaign": lead.campaign,
        "tags": [t.name for t in lead.tags.all()],
        "interest": lead.interest,
        "note": lead.note,
        "referred_by": lead.referred_by,
        "deal_value": lead.deal_value,
    }
    form_class = forms.LeadEditForm if package else forms.DealValueForm
    form = form_class(request.POST or None, initial=initial)
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
    "next_step": forms.NextStepForm,
}


# The stage-bound actions the "Actions" card draws (the next step has its own card, with the lead's tasks).
CARD_ACTIONS = frozenset(ACTION_STAGES) - {permissions.NEXT_STEP}


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
        "tasks": _open_tasks(request.user, lead),
        "now": timezone.now(),
        "deal": selectors.deal_value(lead),
        # The edit page: the whole package for who may edit it, the deal value alone for sales working the lead.
        "may_set_value": permissions.can(request.user, permissions.SET_DEAL_VALUE, lead),
    }
    return render(request, "leads/lead_detail.html", context, status=status)


def _open_tasks(user, lead: Lead) -> list:
    """The lead's open tasks (its next step, its onboarding…), each with whether the person may mark it done."""
    tasks = todo.open_tasks_about(lead)
    for task in tasks:
        task.can_act = todo.may_act(user, task)
    return tasks


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
    if action == "next_step":
        return services.set_next_step(lead=lead, by=user, **data)
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
    "next_step": gettext_lazy("Next step set."),
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
