"""What the journey tests share: a frozen Tuesday morning outside the quiet hours, customers who can be emailed,
content with a variant, and journeys built and activated through marketing.journeys as people do."""

from contextlib import contextmanager
from datetime import datetime, time

import time_machine
from django.utils import timezone

from customers.models import IdentityKind
from marketing import journeys, services
from tests.factories import (
    ContentItemFactory,
    ContentVariantFactory,
    CustomerFactory,
    CustomerIdentityFactory,
    make_user,
)

NOW = datetime.fromisoformat("2026-03-10T10:00:00+08:00")  # a Tuesday morning, outside the quiet hours


def frozen_clock(settings):
    """For each module's `clock` fixture (`yield from frozen_clock(settings)`): the clock stands still at NOW, with
    the sending rules' settings fixed; `clock.shift(delta)` moves it (and keeps it still)."""
    settings.RELAY_QUIET_HOURS = (time(21, 0), time(9, 0))
    settings.RELAY_MAX_MESSAGES_PER_WEEK = 3
    settings.RELAY_TRACKING_BASE_URL = "https://relay.example.com"
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def emailable(name="Ada", email=None, **fields):
    customer = CustomerFactory(name=name, **fields)
    CustomerIdentityFactory(customer=customer, kind=IdentityKind.EMAIL, value=email or f"{name.lower()}@example.com")
    return customer


def content(title="Welcome", stage="awareness", **fields):
    """An active content item with one variant."""
    item = ContentItemFactory(title=title, stage=stage, **fields)
    ContentVariantFactory(item=item, title=f"{title} A", body="Hello! https://example.com/offer")
    return item


def live_journey(steps, *, trigger=None, by=None, manager=None, **fields):
    """A journey created by a marketing user and activated by a marketing manager, through the services."""
    journey = journeys.create_journey(
        by=by or make_user("marketing"),
        name=fields.pop("name", "Journey"),
        trigger=trigger or {"type": "signed_up"},
        steps=steps,
        **fields,
    )
    return journeys.activate_journey(journey=journey, by=manager or make_user("marketing_manager"))


@contextmanager
def committing(capture):
    """Run what the block commits for after commit (the outbox hands the engine's tasks to eager Celery)."""
    with capture(execute=True):
        yield


def record(customer, type="signed_up", *, by=None, external_id="", at=None):
    """A customer event through marketing.services.record_event (the API's service)."""
    return services.record_event(
        by=by or make_user("marketing"),
        type=type,
        at=at or timezone.now(),
        source="web",
        external_id=external_id,
        customer=customer,
    )
