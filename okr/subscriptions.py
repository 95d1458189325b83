"""okr's wiring, registered once at start-up (config's ready() imports this module)."""

from django.db.models.signals import post_delete, post_save

from leads.models import LeadStageChange
from okr import metrics

# Late-arriving stage history for a closed day drops what the metrics keep for closed days (see metrics.py,
# "Closed days"). Model signals, not events: the admin, fixtures and repairs write history outside the services.
post_save.connect(metrics.stage_change_saved, sender=LeadStageChange, dispatch_uid="okr.stage_change_saved")
post_delete.connect(metrics.stage_change_deleted, sender=LeadStageChange, dispatch_uid="okr.stage_change_deleted")
