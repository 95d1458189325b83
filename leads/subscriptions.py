"""What leads adds to customers, registered once at start-up (config's ready() imports this module)."""

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from config import about, home, lists, notifications, pickers, search
from customers.imports import ImportKindRules, register_kind
from customers.models import ImportKind, LifecycleStage
from customers.segments import LifecycleEvidence, register_lifecycle_evidence
from customers.selectors import register_detail_part, register_timeline_source
from leads import permissions, selectors, services
from leads.models import Lead
from leads.stages import PIPELINE, Stage


def _may_import_leads(user) -> bool:
    return permissions.can(user, permissions.CREATE)


def _leads_in(stages) -> str:
    marks = ", ".join(["%s"] * len(stages))
    return f"EXISTS (SELECT 1 FROM {Lead._meta.db_table} l WHERE l.customer_id = c.id AND l.stage IN ({marks}))"  # nosec B608


register_kind(ImportKind.LEADS, ImportKindRules(may_import=_may_import_leads, apply=services.import_leads))
register_detail_part(selectors.attach_customer_leads)
register_timeline_source(selectors.timeline_events)

# DESIGN.md "Customer": the lifecycle stage a customer's leads give them.
for _stage, _lead_stages in (
    (LifecycleStage.LOYALTY, [Stage.WON]),
    (LifecycleStage.DECISION, list(PIPELINE)),
    (LifecycleStage.CONSIDERATION, [Stage.NEW, Stage.HANDED_OFF]),
):
    register_lifecycle_evidence(LifecycleEvidence(_stage, _leads_in(_lead_stages), tuple(str(s) for s in _lead_stages)))

pickers.register("leads", search=selectors.pick_leads, label=selectors.lead_label)


def _lead_url(pk: int) -> str:
    return reverse("leads:lead-detail", args=[pk])


about.register("lead", model=Lead, labels=selectors.lead_labels, url=_lead_url)  # next steps, onboarding


def _home_panel(request) -> dict | None:
    return selectors.home_queue(request.user)


home.register("leads", order=20, template="leads/_home_queue.html", context=_home_panel)

for _kind, _label in (
    ("leads.handoff", _("Lead handed off to you")),
    ("leads.rejected", _("Lead rejected")),
    ("leads.assigned", _("Lead assigned")),
    ("leads.high_intent", _("Lead flagged high intent")),
    ("leads.recycled", _("Lead back in the pool")),
    ("leads.sla.handoff", _("Handoff past its accept SLA")),
    ("leads.sla.contact", _("Accepted lead not contacted in time")),
):
    notifications.register_kind(_kind, _label)

lists.register("leads", "leads:lead-list")  # its saved views (config.lists)
search.register("leads", label=_("Leads"), find=selectors.search_leads)  # the top bar's search (config.search)
