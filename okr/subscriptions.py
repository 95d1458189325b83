"""okr's wiring, registered once at start-up (config's ready() imports this module)."""

from django.db.models.signals import post_delete, post_save

from config import about, home, roles
from leads.models import LeadStageChange
from okr import metrics, review, selectors
from okr.models import ReviewNote

# Late-arriving stage history for a closed day drops what the metrics keep for closed days (see metrics.py,
# "Closed days"). Model signals, not events: the admin, fixtures and repairs write history outside the services.
post_save.connect(metrics.stage_change_saved, sender=LeadStageChange, dispatch_uid="okr.stage_change_saved")
post_delete.connect(metrics.stage_change_deleted, sender=LeadStageChange, dispatch_uid="okr.stage_change_deleted")


def _home_key_results(request) -> dict | None:
    """The department's key results this quarter (every department's for an admin); no panel for anyone else."""
    department = roles.department_of(request.user)
    if department is None and not roles.is_admin(request.user):
        return None
    quarter = selectors.current_quarter()
    return {"quarter": quarter, "departments": selectors.home_key_results(quarter, department)}


home.register("okr", order=30, template="okr/_home_key_results.html", context=_home_key_results)
# The task a review action became is about its note: the task links back to the quarter's review.
about.register("review_note", model=ReviewNote, labels=review.note_labels, url=review.note_url)
