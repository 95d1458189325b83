"""The quarterly process review's pages (DESIGN.md "Everyday work"): /okr/reviews/ (the last closed quarter, or the
one chosen), /okr/reviews/<quarter>/ (printable; everyone signed in reads it) and the findings and actions
managers add to it. Thin: okr.review reads, okr.services writes."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from config import roles
from config.errors import DomainError
from config.pages import error_status, form_error, staff_required
from okr import charts, permissions, review, selectors, services
from okr.forms import ReviewNoteForm
from okr.models import ReviewNote


def _quarter_or_404(quarter: str) -> str:
    try:
        return review.clean_quarter(quarter)
    except review.InvalidQuarter as error:
        raise Http404(error.message) from None


def _note_departments(user) -> list[str]:
    """The departments whose findings and actions `user` may add (none: the page shows no form)."""
    return [code for code in roles.DEPARTMENTS if permissions.can(user, "add_review_note", code)]


def _notes_context(request, quarter: str, *, notes=None, form=None) -> dict:
    departments = _note_departments(request.user)
    if departments and form is None:
        form = ReviewNoteForm(departments=departments)
    return {
        "quarter": quarter,
        "notes": list(review.review_notes(quarter)) if notes is None else notes,
        "note_form": form if departments else None,
        "now": timezone.now(),
    }


def _funnel_chart(funnel: dict):
    """Leads of the quarter reaching each stage, as horizontal bars with each step's drop-off."""
    if not funnel["created"].value:
        return ""
    bars = [
        charts.Bar(
            stage["label"],
            stage["count"],
            detail="−" + charts.PERCENT.text(stage["drop_off"]) if stage["drop_off"] else "",
        )
        for stage in funnel["stages"]
    ]
    return charts.hbar_chart(bars, title=_("Leads reaching each stage"), unit=charts.COUNT, x_title=_("Leads"))


@staff_required
def review_index(request):
    """The quarter chosen in the selector (`?quarter=`), else the last closed quarter."""
    try:
        quarter = review.clean_quarter(request.GET.get("quarter", ""))
    except review.InvalidQuarter:
        quarter = review.last_closed_quarter()
    return redirect("okr:review", quarter=quarter)


def _review_page(request, quarter: str, *, form=None, status: int = 200):
    data = review.review(quarter)
    following = selectors.shift_quarter(quarter, 1)
    context = {
        **data,
        **_notes_context(request, quarter, notes=data["notes"], form=form),
        "quarters": review.offered_quarters(quarter),
        "next_quarter": following if following <= selectors.current_quarter() else None,
        "funnel_chart": _funnel_chart(data["funnel"]),
    }
    return render(request, "okr/review.html", context, status=status)


@staff_required
def review_page(request, quarter: str):
    return _review_page(request, _quarter_or_404(quarter))


def _notes_partial(request, quarter: str, *, form=None, status: int = 200):
    response = render(request, "okr/_review_notes.html", _notes_context(request, quarter, form=form), status=status)
    response["Vary"] = "HX-Request"
    return response


@staff_required
@require_POST
def review_note_add(request, quarter: str):
    """Add a finding or an action (an action becomes a task); htmx swaps the notes, a plain post comes back to the
    page. A form error is 422, shown on its field."""
    quarter = _quarter_or_404(quarter)
    departments = _note_departments(request.user)
    if not departments:
        raise PermissionDenied(_("Only a department's manager adds its review findings and actions."))
    form = ReviewNoteForm(request.POST, departments=departments)
    status = 422
    if form.is_valid():
        try:
            services.add_review_note(by=request.user, quarter=quarter, **form.cleaned_data)
            status = 0
        except DomainError as error:
            form_error(form, error)
            status = error_status(request, error)
    if request.htmx:
        return _notes_partial(request, quarter, form=form if status else None, status=status or 200)
    if status:
        return _review_page(request, quarter, form=form, status=status)
    messages.success(request, _("Added to the %(quarter)s review.") % {"quarter": quarter})
    return redirect(f"{reverse('okr:review', args=[quarter])}#notes")


@staff_required
def review_note(request, pk: int):
    """Where a review action's task links to: the note in its quarter's review."""
    note = get_object_or_404(ReviewNote.objects.only("pk", "quarter"), pk=pk)
    return redirect(f"{reverse('okr:review', args=[note.quarter])}#note-{note.pk}")
