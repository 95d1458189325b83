"""The one event publisher: a lower app announces what happened, higher apps (and webhooks) hear it.

    events.publish("lead.won", lead=lead.pk, customer=lead.customer_id, by=by_id, at=now)

    # feedback/apps.py
    def ready(self):
        events.subscribe("lead.won", handlers.open_onboarding_task)

Handlers run synchronously inside the publisher's transaction, so what they write commits or rolls back
with the change that caused it; work that leaves the database goes through the outbox from there. Every
event is also offered to the outbound webhooks, once per `event_id` (config/subscriptions.py plugs
`webhooks.publish` in: webhook delivery tells people through notifications, which publish alerts here).
"""

from collections import defaultdict
from collections.abc import Callable

Handler = Callable[..., object]

# Every domain event, published at the one place it happens; webhook endpoints subscribe to these by name.
EVENT_TYPES = (
    "lead.handed_off",  # leads.services.handoff_lead
    "lead.accepted",  # accept_lead, claim_lead
    "lead.rejected",  # reject_lead
    "lead.stage_changed",  # _transition: every move
    "lead.won",  # close_lead
    "lead.lost",  # close_lead
    "customer.merged",  # customers.services.merge_customers
    "order.placed",  # customers.services.upsert_order (a new order)
    "complaint.opened",  # feedback.services.create_complaint
    "complaint.resolved",  # feedback.services.transition_complaint
    "nps.received",  # feedback.services: staff entry and survey answer
    "alert.raised",  # config.notifications.notify with a dedupe_key
)

_subscribers: dict[str, list[Handler]] = defaultdict(list)
_forwarders: list[Callable[..., object]] = []


def forward_to(publisher: Callable[..., object]) -> None:
    """Offer every published event to `publisher(event_type=, data=, event_id=)` (the webhooks)."""
    if publisher not in _forwarders:
        _forwarders.append(publisher)


def subscribe(event_type: str, handler: Handler) -> None:
    """Call `handler(**data)` on every `event_type`; subscribing the same handler twice is harmless."""
    if handler not in _subscribers[event_type]:
        _subscribers[event_type].append(handler)


def subscribers(event_type: str) -> list[Handler]:
    return list(_subscribers[event_type])


def publish(event_type: str, *, event_id: str = "", webhook: bool = True, **data) -> None:
    """Run every subscriber of `event_type` with `data`, then queue it for the webhook endpoints that want it."""
    for handler in subscribers(event_type):
        handler(**data)
    for forward in _forwarders if webhook else ():
        forward(event_type=event_type, data=data, event_id=event_id)
