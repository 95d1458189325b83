"""For the domain event tests of each app: one endpoint subscribed to the event under test, another to every
other event, and what each was sent."""

from config.events import EVENT_TYPES
from config.models import WebhookDelivery, WebhookEndpoint
from config.webhooks import new_secret


def endpoints_for(event_type: str) -> tuple[WebhookEndpoint, WebhookEndpoint]:
    assert event_type in EVENT_TYPES
    wanted = WebhookEndpoint.objects.create(
        url="https://wanted.example.com/hook", secret=new_secret(), event_types=[event_type]
    )
    others = WebhookEndpoint.objects.create(
        url="https://others.example.com/hook",
        secret=new_secret(),
        event_types=[t for t in EVENT_TYPES if t != event_type],
    )
    return wanted, others


def sent(endpoint: WebhookEndpoint, event_type: str | None = None) -> list[tuple[str, dict]]:
    """(event type, data) of each delivery queued for the endpoint, oldest first."""
    rows = WebhookDelivery.objects.filter(endpoint=endpoint).order_by("pk")
    if event_type:
        rows = rows.filter(event_type=event_type)
    return [(d.event_type, d.payload["data"]) for d in rows]
