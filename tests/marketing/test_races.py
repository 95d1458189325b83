"""Concurrency on PostgreSQL (SQLite serialises writers): two deliveries of one event record it once, two beats
raise a missed activation once."""

from datetime import timedelta

import pytest
from django.utils import timezone

from config.models import Notification
from customers.models import Customer
from marketing import services
from marketing.models import ActivationWindow, CustomerEvent
from tests.factories import CustomerFactory, make_user
from tests.races import at_once

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


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

    outcomes = at_once(*[deliver] * 2)
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
    assert sorted(at_once(*[services.raise_missed_activations] * 2)) == [0, 1]
    assert Notification.objects.filter(kind="marketing.activation_missed").count() == 1
