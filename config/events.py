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
    "lead.created",  # leads.services.create_lead (the API, pages and bulk intake; not CSV imports)
    "lead.handed_off",  # leads.services.handoff_lead
    "lead.accepted",  # accept_lead, claim_lead
    "lead.rejected",  # reject_lead
    "lead.stage_changed",  # _transition: every move
    "lead.won",  # close_lead
    "lead.lost",  # close_lead
    "customer.merged",  # customers.services.merge_customers
    "order.placed",  # customers.services.place_order (a new order)
    "order.cancelled",  # customers.services.cancel_order, once an order (data: order, customer, amount, reason, by)
    "complaint.opened",  # feedback.services.create_complaint
    "complaint.resolved",  # feedback.services.transition_complaint
    "nps.received",  # feedback.services: staff entry and survey answer
    "alert.raised",  # config.notifications.notify with a dedupe_key
    "customer.event",  # marketing.services.record_event: every new customer event (data: event, customer, type, at)
    "activation.missed",  # marketing.services.raise_missed_activations (data: customer, signed_up_at, window)
    # marketing.sending.send_message on sms, wechat and wecom: integrations deliver the message (data: message,
    # customer, channel, address, title, body, cover_url, links, open_url, unsubscribe_url).
    "message.send",
    "lead.flagged_high_intent",  # leads.services.flag_high_intent, when a lead first becomes high intent
    "lead.tagged",  # leads.services: a tag newly on a lead, by a person or a journey (data: lead, customer, tag)
    "lifecycle.changed",  # customers.services.recompute_customer_segments (data: customer, stage, at)
    "segment.entered",  # recompute_customer_segments: a customer's new RFM segment (data: customer, segment, at)
    "nps.detractor",  # feedback.services: an NPS answer of 0-6 (data: response, customer, score, at)
    "tier.changed",  # customers.loyalty.recompute_tiers: a new loyalty tier (data: customer, tier, previous, at)
)

_subscribers: dict[str, list[Handler]] = defaultdict(list)
_batch_subscribers: dict[str, list[Handler]] = defaultdict(list)
_forwarders: list[Callable[..., object]] = []


def forward_to(publisher: Callable[..., object]) -> None:
    """Offer every published event to `publisher(event_type=, data=, event_id=)` (the webhooks)."""
    if publisher not in _forwarders:
        _forwarders.append(publisher)


def subscribe(event_type: str, handler: Handler) -> None:
    """Call `handler(**data)` on every `event_type`; subscribing the same handler twice is harmless."""
    if handler not in _subscribers[event_type]:
        _subscribers[event_type].append(handler)


def subscribe_batch(event_type: str, handler: Handler) -> None:
    """Call `handler(event_type, items)` with the list of each publication's data: once per `publish_many` (a bulk
    recompute announcing thousands of customers costs the handler a few queries, not thousands), and with a
    one-item list per `publish`."""
    if handler not in _batch_subscribers[event_type]:
        _batch_subscribers[event_type].append(handler)


def subscribers(event_type: str) -> list[Handler]:
    return list(_subscribers[event_type])


def publish(event_type: str, *, event_id: str = "", webhook: bool = True, **data) -> None:
    """Run every subscriber of `event_type` with `data`, then queue it for the webhook endpoints that want it."""
    for handler in subscribers(event_type):
        handler(**data)
    for handler in list(_batch_subscribers[event_type]):
        handler(event_type, [data])
    for forward in _forwarders if webhook else ():
        forward(event_type=event_type, data=data, event_id=event_id)


def publish_many(event_type: str, items: list[tuple[str, dict]]) -> None:
    """`publish` each (event_id, data) of a bulk change: plain subscribers and webhooks hear each one, batch
    subscribers hear them all in one call."""
    if not items:
        return
    for _event_id, data in items:
        for handler in subscribers(event_type):
            handler(**data)
    for handler in list(_batch_subscribers[event_type]):
        handler(event_type, [data for _event_id, data in items])
    for event_id, data in items:
        for forward in _forwarders:
            forward(event_type=event_type, data=data, event_id=event_id)
