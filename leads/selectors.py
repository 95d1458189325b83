from django.utils.translation import gettext as _

from config.timeline import TimelineEvent
from leads.models import Activity, LeadStageChange
from leads.stages import Stage


def timeline_events(customer_id: int, limit: int = 200) -> list[TimelineEvent]:
    """Stage changes and activities of the customer's leads, newest first."""
    changes = (
        LeadStageChange.objects.filter(lead__customer_id=customer_id)
        .select_related("by")
        .order_by("-at", "-pk")[:limit]
    )
    activities = Activity.objects.filter(lead__customer_id=customer_id).select_related("by").order_by("-at")[:limit]
    events = [
        TimelineEvent(
            at=c.at,
            department="sales" if c.to_stage not in (Stage.NEW, Stage.HANDED_OFF) else "marketing",
            kind="lead.stage_changed",
            text=_("Lead #%(id)s moved to %(stage)s") % {"id": c.lead_id, "stage": Stage(c.to_stage).label},
            actor=c.by.get_username() if c.by else "",
        )
        for c in changes
    ]
    events += [
        TimelineEvent(
            at=a.at,
            department="sales",
            kind=f"lead.activity.{a.kind}",
            text=f"{a.get_kind_display()}: {a.body[:200]}",
            actor=a.by.get_username() if a.by else "",
        )
        for a in activities
    ]
    return sorted(events, key=lambda e: e.at, reverse=True)[:limit]
