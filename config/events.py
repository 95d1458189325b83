"""The one event publisher: a lower app announces what happened, higher apps (and webhooks) hear it.

    events.publish("lead.won", lead=lead.pk, customer=lead.customer_id, by=by_id, at=now)

    # feedback/apps.py
    def ready(self):
        events.subscribe("lead.won", handlers.open_onboarding_task)

Handlers run synchronously inside the publisher's transaction, so what they write commits or rolls back
with the change that caused it; work that leaves the database goes through the outbox from there. Every
event is also offered to the outbound webhooks, once per `event_id`.
"""

from collections import defaultdict
from collections.abc import Callable

from config import webhooks

Handler = Callable[..., object]

_subscribers: dict[str, list[Handler]] = defaultdict(list)


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
    if webhook:
        webhooks.publish(event_type=event_type, data=data, event_id=event_id)
