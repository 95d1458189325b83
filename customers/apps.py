from decimal import Decimal

from django.apps import AppConfig
from django.apps import apps as global_apps
from django.db import DEFAULT_DB_ALIAS
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _

# The loyalty tiers' default thresholds of trailing-12-month spend (admins edit them afterwards).
DEFAULT_TIER_THRESHOLDS = (
    ("member", Decimal("0")),
    ("silver", Decimal("5000")),
    ("gold", Decimal("20000")),
    ("platinum", Decimal("50000")),
)


def create_missing_tiers(*, using=DEFAULT_DB_ALIAS, apps=global_apps, **kwargs) -> None:
    """After every migrate and flush (as Django recreates permissions): a tier row that is missing comes back with
    its default threshold; an edited threshold is kept. A flush between transactional tests empties the table."""
    try:
        tier = apps.get_model("customers", "LoyaltyTier")
    except LookupError:  # migrated to a state before the tiers
        return
    for code, threshold in DEFAULT_TIER_THRESHOLDS:
        tier.objects.using(using).get_or_create(code=code, defaults={"threshold": threshold})


class CustomersConfig(AppConfig):
    name = "customers"
    verbose_name = _("Customers")

    def ready(self) -> None:
        post_migrate.connect(create_missing_tiers, sender=self, dispatch_uid="customers.create_missing_tiers")
