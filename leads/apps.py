from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LeadsConfig(AppConfig):
    name = "leads"
    verbose_name = _("Leads")

    def ready(self):
        from customers.imports import ImportKindRules, register_kind
        from customers.models import ImportKind, LifecycleStage
        from customers.segments import LifecycleEvidence, register_lifecycle_evidence
        from customers.selectors import register_detail_part, register_timeline_source
        from leads import permissions, selectors, services
        from leads.models import Lead
        from leads.stages import PIPELINE, Stage

        register_kind(
            ImportKind.LEADS,
            ImportKindRules(
                may_import=lambda user: permissions.can(user, permissions.CREATE), apply=services.import_leads
            ),
        )
        register_detail_part(selectors.attach_customer_leads)
        register_timeline_source(selectors.timeline_events)

        # DESIGN.md "Customer": the lifecycle stage a customer's leads give them.
        lead_t = Lead._meta.db_table

        def leads_in(stages) -> str:
            marks = ", ".join(["%s"] * len(stages))
            return f"EXISTS (SELECT 1 FROM {lead_t} l WHERE l.customer_id = c.id AND l.stage IN ({marks}))"

        for stage, lead_stages in (
            (LifecycleStage.LOYALTY, [Stage.WON]),
            (LifecycleStage.DECISION, list(PIPELINE)),
            (LifecycleStage.CONSIDERATION, [Stage.NEW, Stage.HANDED_OFF]),
        ):
            register_lifecycle_evidence(
                LifecycleEvidence(stage, leads_in(lead_stages), tuple(str(s) for s in lead_stages))
            )
