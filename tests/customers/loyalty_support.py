"""What the loyalty tests share: a clock that stands still (and moves when told), the default loyalty settings, and
orders placed and cancelled through the API as feeds and people do."""

from datetime import datetime

import time_machine

from customers.models import PointsEntry

NOW = datetime.fromisoformat("2026-03-10T10:00:00+08:00")


def at(text: str) -> datetime:
    """A local time: at("2025-06-01 09:00")."""
    return datetime.fromisoformat(f"{text}+08:00")


def frozen_clock(settings):
    """For each module's `clock` fixture (`yield from frozen_clock(settings)`): the clock stands still at NOW, with
    one point per currency unit expiring after 12 months; `clock.move_to()` moves it (and keeps it still)."""
    settings.RELAY_POINTS_PER_UNIT = 1.0
    settings.RELAY_POINTS_EXPIRE_MONTHS = 12
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def place(api, customer, amount: str, ordered_at: datetime, external_id: str = "") -> dict:
    """POST orders/ (a sales user's API client), asserting it was written; the order's body."""
    response = api.post(
        "/api/v1/orders/",
        {"customer": customer.pk, "amount": amount, "ordered_at": ordered_at.isoformat(), "external_id": external_id},
        format="json",
    )
    assert response.status_code in (200, 201), response.json()
    return response.json()


def cancel(api, order_id: int, reason: str = "Returned"):
    return api.post(f"/api/v1/orders/{order_id}/cancel/", {"reason": reason}, format="json")


def ledger(customer) -> list[tuple[str, int]]:
    """(kind, points) of the customer's entries, oldest first."""
    return list(PointsEntry.objects.filter(customer=customer).order_by("at", "pk").values_list("kind", "points"))


def balance(customer) -> int:
    customer.refresh_from_db()
    return customer.points_balance
