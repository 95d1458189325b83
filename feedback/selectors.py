from django.utils.translation import gettext as _

from config.timeline import TimelineEvent
from feedback.models import Complaint, NpsResponse


def timeline_events(customer_id: int, limit: int = 200) -> list[TimelineEvent]:
    """Complaints and NPS answers of the customer, newest first."""
    complaints = Complaint.objects.filter(customer_id=customer_id).order_by("-opened_at")[:limit]
    answers = NpsResponse.objects.filter(customer_id=customer_id).order_by("-answered_at")[:limit]
    events = [
        TimelineEvent(
            at=c.opened_at,
            department="service",
            kind="complaint.opened",
            text=_("Complaint #%(id)s (%(category)s): %(status)s")
            % {"id": c.pk, "category": c.get_category_display(), "status": c.get_status_display()},
        )
        for c in complaints
    ]
    events += [
        TimelineEvent(
            at=r.answered_at,
            department="service",
            kind="nps.answered",
            text=_("NPS answer %(score)s") % {"score": r.score},
        )
        for r in answers
    ]
    return sorted(events, key=lambda e: e.at, reverse=True)[:limit]
