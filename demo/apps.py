from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DemoConfig(AppConfig):
    """Demo and benchmark data (`seed_demo`, `bench_data`, `bench`): the top layer, nothing imports it."""

    name = "demo"
    verbose_name = _("Demo data")
