"""marketing's wiring, registered once at start-up (config's ready() imports this module)."""

from django.utils.translation import gettext_lazy as _

from config import events, lists, notifications
from customers.imports import register_kind
from customers.models import ImportKind
from customers.selectors import register_timeline_source
from marketing import journeys, selectors, touchpoints, tracking

register_timeline_source(selectors.timeline_events)  # customer events and missed activations on the timeline
notifications.register_kind("marketing.activation_missed", _("Sign-up not activated"))
register_timeline_source(selectors.message_timeline_events)  # messages sent, queued and skipped
# Conversions: a lead, an order or the journey's goal event soon after a message (marketing.tracking).
events.subscribe("lead.created", tracking.lead_created)
events.subscribe("order.placed", tracking.order_placed)
events.subscribe("customer.event", tracking.customer_event)
lists.register("messages", "marketing:message-list")
# Journeys: every trigger (and goal) event enrols or converts, in the publisher's transaction (marketing.journeys).
for _event_type in journeys.HEARD_EVENTS:
    events.subscribe_batch(_event_type, journeys.hear)
notifications.register_kind("marketing.journey", _("Journey step"))
# Touchpoints: the CSV import kind, the customer timeline, and a visit on each new lead's source channel.
register_kind(ImportKind.TOUCHPOINTS, touchpoints.IMPORT_RULES)
register_timeline_source(selectors.touchpoint_timeline_events)
events.subscribe("lead.created", touchpoints.lead_created)
