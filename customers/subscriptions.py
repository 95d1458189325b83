"""customers' wiring, imported once at start-up (config's ready() imports every app's subscriptions)."""

from config import pickers
from customers import selectors

pickers.register("customers", search=selectors.pick_customers, label=selectors.customer_label)
pickers.register("campaigns", search=selectors.pick_campaigns, label=selectors.campaign_label)
pickers.register("orders", search=selectors.pick_orders, label=selectors.order_label)
