"""Celery queues, most urgent first; workers consume them in this order (`-Q interactive,maintenance`).

interactive: what a person is waiting for (imports, survey invitations, webhook deliveries, emails).
maintenance: what keeps numbers fresh (segment refreshes, SLA checks, snapshots, digests, recycling).
"""

INTERACTIVE, MAINTENANCE = "interactive", "maintenance"
QUEUES = (INTERACTIVE, MAINTENANCE)
