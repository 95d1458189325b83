"""The journey builder (DESIGN.md "Journeys"): the list with its counts, a journey's page with its steps in order
(add one per kind, move up or down, remove), its settings, activate and pause for marketing's managers, and its
enrolments with each one's step log. Thin views over marketing.journeys; every action works with and without htmx."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from config.errors import DomainError
from config.pages import error_status, form_error, staff_required
from config.pagination import keyset_page_for
from marketing import journeys, permissions
from marketing.api.filters import EnrolmentFilter, JourneyFilter
from marketing.journey_forms import JourneyForm, StepForm, content_choices
from marketing.models import ContentItem, Journey, JourneyStatus, JourneyStep, StepKind


def _vary(response):
    patch_vary_headers(response, ["HX-Request"])
    return response


@staff_required
@require_GET
def journey_list(request):
    filterset = JourneyFilter(request.GET or None, queryset=journeys.journey_rows(), request=request)
    qs = filterset.qs if filterset.is_bound and filterset.is_valid() else journeys.journey_rows()
    page, paging = keyset_page_for(request, qs, order="-pk")
    context = {
        "page": page,
        **paging,
        "filter": filterset,
        "can_create": permissions.can(request.user, "journey.create"),
    }
    template = "marketing/_journey_rows.html" if request.htmx else "marketing/journey_list.html"
    return _vary(render(request, template, context))


def _form_page(request, form, *, journey=None, status=200):
    return render(request, "marketing/journey_form.html", {"form": form, "journey": journey}, status=status)


@staff_required
@require_http_methods(["GET", "POST"])
def journey_create(request):
    permissions.require(request.user, "journey.create")
    form = JourneyForm(request.POST or None, initial={"trigger_type": "signed_up"})
    if request.method == "POST":
        if not form.is_valid():
            return _form_page(request, form, status=422)
        try:
            journey = journeys.create_journey(by=request.user, **form.definition())
        except DomainError as exc:
            form_error(form, exc, JourneyForm.field_for)
            return _form_page(request, form, status=error_status(request, exc))
        messages.success(request, _("Journey created as a draft. Add its steps."))
        return redirect("marketing:journey-detail", pk=journey.pk)
    return _form_page(request, form)


@staff_required
@require_http_methods(["GET", "POST"])
def journey_edit(request, pk: int):
    journey = get_object_or_404(Journey, pk=pk)
    permissions.require(request.user, "journey.change", journey)
    form = JourneyForm(request.POST or None, initial=JourneyForm.initial_of(journey))
    if request.method == "POST":
        if not form.is_valid():
            return _form_page(request, form, journey=journey, status=422)
        try:
            journeys.update_journey(journey=journey, by=request.user, **form.definition())
        except DomainError as exc:
            form_error(form, exc, JourneyForm.field_for)
            return _form_page(request, form, journey=journey, status=error_status(request, exc))
        messages.success(request, _("Journey saved."))
        return redirect("marketing:journey-detail", pk=pk)
    return _form_page(request, form, journey=journey)


def _journey_or_404(pk: int) -> Journey:
    try:
        return journeys.journeys().get(pk=pk)
    except Journey.DoesNotExist:
        raise Http404 from None


def _steps_context(request, journey: Journey, *, posted: StepForm | None = None, error: str = "") -> dict:
    """The steps partial: the live steps described (send steps with their content's title, one query) and a form per
    kind, the posted one with its errors."""
    choices = content_choices()
    titles = dict(choices)
    sent = {s.config.get("content") for s in journey.live_steps if s.kind == StepKind.SEND} - set(
        titles
    )  # content switched off since: its title still reads better than a number
    titles.update(ContentItem.objects.filter(pk__in=[c for c in sent if isinstance(c, int)]).values_list("pk", "title"))
    count = len(journey.live_steps)
    forms = []
    for kind, label in StepKind.choices:
        if posted is not None and posted.kind_value == kind:
            forms.append((kind, label, posted))
        else:
            forms.append((kind, label, StepForm(kind=kind, step_count=count, content_choices=choices)))
    return {
        "journey": journey,
        "steps": [(step, journeys.step_summary(step.kind, step.config, titles)) for step in journey.live_steps],
        "step_forms": forms,
        "open_kind": posted.kind_value if posted is not None else "",
        "step_error": error,
        "can_change": permissions.can(request.user, "journey.change", journey),
    }


def _enrolments_context(request, journey: Journey) -> dict:
    base = journeys.enrolments(journey.pk)
    filterset = EnrolmentFilter(request.GET or None, queryset=base, request=request)
    qs = filterset.qs if filterset.is_bound and filterset.is_valid() else base
    page, paging = keyset_page_for(request, qs, order="-pk", size=20)
    return {"enrolment_page": page, "enrolment_filter": filterset, **paging}


def _page_context(request, journey: Journey, **steps) -> dict:
    user = request.user
    return {
        **_steps_context(request, journey, **steps),
        **_enrolments_context(request, journey),
        "trigger_label": journeys.trigger_summary(journey.trigger),
        "audience": journeys.audience_summary(journey.audience),
        "goal_label": journeys.trigger_label(journey.goal) if journey.goal else "",
        "can_activate": journey.status != JourneyStatus.ACTIVE and permissions.can(user, "journey.activate", journey),
        "can_pause": journey.status == JourneyStatus.ACTIVE and permissions.can(user, "journey.pause", journey),
        "can_delete": journey.activated_at is None and permissions.can(user, "journey.change", journey),
        "now": timezone.now(),
    }


@staff_required
@require_GET
def journey_detail(request, pk: int):
    journey = _journey_or_404(pk)
    if request.htmx and request.headers.get("HX-Target") == "journey-enrolments":  # its filter and paging
        context = {"journey": journey, "now": timezone.now(), **_enrolments_context(request, journey)}
        return _vary(render(request, "marketing/_journey_enrolments.html", context))
    return _vary(render(request, "marketing/journey_detail.html", _page_context(request, journey)))


def _steps_answer(request, pk: int, *, posted: StepForm | None = None, error: DomainError | None = None):
    """After a step action: the steps partial for htmx (422 with the refusal shown), else back to the page (the
    refusal shown there, 422)."""
    if error is None and not request.htmx:
        return redirect("marketing:journey-detail", pk=pk)
    journey = _journey_or_404(pk)
    message = error.message if error is not None and (posted is None or not posted.errors) else ""
    if request.htmx:
        context = _steps_context(request, journey, posted=posted, error=message)
        status = error_status(request, error) if error is not None else 200
        return _vary(render(request, "marketing/_journey_steps.html", context, status=status))
    context = _page_context(request, journey, posted=posted, error=message)
    return _vary(render(request, "marketing/journey_detail.html", context, status=error_status(request, error)))


@staff_required
@require_POST
def step_add(request, pk: int):
    journey = get_object_or_404(Journey, pk=pk)
    permissions.require(request.user, "journey.change", journey)
    kind = request.POST.get("kind")
    if kind not in StepKind.values:
        return _steps_answer(request, pk, error=DomainError(_("Choose the step's kind."), field="kind"))
    count = JourneyStep.objects.filter(journey=journey, is_removed=False).count()
    form = StepForm(request.POST, kind=kind, step_count=count, content_choices=content_choices())
    if not form.is_valid():
        return _steps_answer(request, pk, posted=form, error=DomainError(_("Check the step's fields.")))
    try:
        journeys.add_step(
            journey=journey, by=request.user, step=form.step(), position=form.cleaned_data.get("position")
        )
    except DomainError as exc:
        form_error(form, exc)
        return _steps_answer(request, pk, posted=form, error=exc)
    return _steps_answer(request, pk)


def _step_or_404(pk: int, step_pk: int) -> JourneyStep:
    return get_object_or_404(JourneyStep, pk=step_pk, journey_id=pk)


@staff_required
@require_POST
def step_move(request, pk: int, step_pk: int):
    step = _step_or_404(pk, step_pk)
    offset = -1 if request.POST.get("direction") == "up" else 1
    try:
        journeys.move_step(step=step, by=request.user, offset=offset)
    except DomainError as exc:
        return _steps_answer(request, pk, error=exc)
    return _steps_answer(request, pk)


@staff_required
@require_POST
def step_remove(request, pk: int, step_pk: int):
    step = _step_or_404(pk, step_pk)
    try:
        journeys.remove_step(step=step, by=request.user)
    except DomainError as exc:
        return _steps_answer(request, pk, error=exc)
    return _steps_answer(request, pk)


def _status_change(request, pk: int, change, done: str):
    journey = get_object_or_404(Journey, pk=pk)
    try:
        change(journey=journey, by=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, done)
    return redirect("marketing:journey-detail", pk=pk)


@staff_required
@require_POST
def journey_activate(request, pk: int):
    return _status_change(request, pk, journeys.activate_journey, _("Journey active: its trigger enrols customers."))


@staff_required
@require_POST
def journey_pause(request, pk: int):
    return _status_change(request, pk, journeys.pause_journey, _("Journey paused: its enrolments are held."))


@staff_required
@require_POST
def journey_delete(request, pk: int):
    journey = get_object_or_404(Journey, pk=pk)
    try:
        journeys.delete_journey(journey=journey, by=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("marketing:journey-detail", pk=pk)
    messages.success(request, _("Journey deleted."))
    return redirect("marketing:journey-list")
