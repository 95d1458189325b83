"""customers' wiring, imported once at start-up (config's ready() imports every app's subscriptions)."""

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from config import about, lists, notifications, pickers, search
from customers import selectors
from customers.models import Customer

pickers.register("customers", search=selectors.pick_customers, label=selectors.customer_label)
selectors.register_detail_part(selectors.attach_loyalty)  # the 360's loyalty panel
selectors.register_detail_part(selectors.attach_recommendations)  # the 360's "Recommended next"
pickers.register("campaigns", search=selectors.pick_campaigns, label=selectors.campaign_label)
pickers.register("orders", search=selectors.pick_orders, label=selectors.order_label)


def _customer_url(pk: int) -> str:
    return reverse("customers:customer-detail", args=[pk])


about.register("customer", model=Customer, labels=selectors.customer_labels, url=_customer_url)  # tasks about one

# The lists whose views people save (config.lists), and the top bar's search (config.search).
for _key, _url_name in (
    ("customers", "customers:customer-list"),
    ("orders", "customers:order-list"),
    ("products", "customers:product-list"),
    ("campaigns", "customers:campaign-list"),
    ("spend", "customers:spend-list"),
):
    lists.register(_key, _url_name)
search.register("customers", label=_("Customers"), find=selectors.search_customers)
notifications.register_kind("customers.account_team", _("Added to an account team"))
notifications.register_kind("customers.large_order", _("Large order on your account team"))
