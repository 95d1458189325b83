"""feedback's wiring, registered once at start-up (config's ready() imports this module)."""

from django.core import checks
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from config import about, events, home, lists, notifications, search
from customers.selectors import register_detail_part, register_timeline_source
from feedback import checks as feedback_checks
from feedback import selectors, services
from feedback.models import Complaint, NpsResponse

checks.register(feedback_checks.survey_base_url)
checks.register(feedback_checks.survey_base_url_is_public, deploy=True)
events.subscribe("lead.won", services.open_onboarding_task)  # a won lead opens service onboarding
register_detail_part(selectors.attach_customer_feedback)
register_timeline_source(selectors.timeline_events)


def _complaint_url(pk: int) -> str:
    return reverse("feedback:complaint-detail", args=[pk])


def _nps_url(pk: int) -> str:
    return reverse("feedback:nps-detail", args=[pk])


# What tasks can be about: a complaint, and an NPS answer (its detractor follow-up).
about.register("complaint", model=Complaint, labels=selectors.complaint_labels, url=_complaint_url)
about.register("nps_response", model=NpsResponse, labels=selectors.nps_labels, url=_nps_url)


def _home_panel(request) -> dict | None:
    return selectors.home_complaints(request.user)


home.register("feedback", order=20, template="feedback/_home_complaints.html", context=_home_panel)

for _kind, _label in (
    ("feedback.onboarding", _("Onboarding to do")),
    ("feedback.complaint_assigned", _("Complaint assigned")),
    ("feedback.detractor", _("Detractor to follow up")),
    ("feedback.insight", _("Insight from service")),
    ("feedback.complaint_first_response_breach", _("Complaint past its first response due")),
    ("feedback.complaint_resolution_breach", _("Complaint past its resolution due")),
    ("feedback.follow_up_overdue", _("Follow-up overdue")),
    ("feedback.account_complaint", _("Complaint on your account team")),
    ("feedback.account_detractor", _("Detractor on your account team")),
):
    notifications.register_kind(_kind, _label)

# The lists whose views people save (config.lists), and the top bar's search (config.search).
lists.register("complaints", "feedback:complaint-list")
lists.register("nps", "feedback:nps-list")
search.register("complaints", label=_("Complaints"), find=selectors.search_complaints)
