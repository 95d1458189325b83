from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class TimelineEvent:
    """One entry of a customer's timeline; each app contributes its own (see `timeline_events`)."""

    at: datetime
    department: str  # marketing | sales | service | "" for system events
    kind: str  # stable code, e.g. "lead.stage_changed"
    text: str  # translated, human readable
    url: str = ""
    actor: str = ""
