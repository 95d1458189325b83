"""Concurrency on PostgreSQL (SQLite serialises writers): two deliveries of one event record it once, two beats
raise a missed activation once."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from config.models import Notification
from customers.models import Customer
from marketing import services
from marketing.models import ActivationWindow, CustomerEvent
from tests.factories import CustomerFactory, make_user

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _race(work, n: int = 2) -> list:
    barrier, outcomes = threading.Barrier(n), []

    def run():
        try:
            barrier.wait()
            outcomes.append(work())
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


def test_two_racing_deliveries_of_one_event_record_it_once_and_one_customer():
    marketer = make_user("marketing")
    at = timezone.now() - timedelta(minutes=5)

    def deliver():
        recorded = services.record_event(
            by=marketer,
            contact={"name": "Racing Rui", "phone": "13900000099"},
            type="signed_up",
            at=at,
            source="web",
            external_id="race-1",
        )
        return recorded.event.pk, recorded.created

    outcomes = _race(deliver)
    assert sorted(created for _pk, created in outcomes) == [False, True]
    assert len({pk for pk, _created in outcomes}) == 1
    assert CustomerEvent.objects.count() == 1 and ActivationWindow.objects.count() == 1
    assert Customer.objects.count() == 1


def test_two_racing_beats_raise_a_missed_activation_once():
    make_user("marketing_manager")
    customer = CustomerFactory()
    services.record_event(
        by=None, customer=customer, type="signed_up", at=timezone.now() - timedelta(hours=100), source="web"
    )
    assert sorted(_race(services.raise_missed_activations)) == [0, 1]
    assert Notification.objects.filter(kind="marketing.activation_missed").count() == 1
