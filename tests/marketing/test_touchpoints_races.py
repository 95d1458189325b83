"""Concurrency on PostgreSQL (SQLite serialises writers): two deliveries of one touch, alone or inside bulk requests
that overlap, record it once and create its customer once."""

from datetime import timedelta

import pytest
from django.utils import timezone

from customers.models import Customer
from marketing import touchpoints
from marketing.models import Touchpoint
from tests.factories import ChannelFactory, make_user
from tests.races import at_once

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_two_racing_deliveries_of_one_touch_record_it_once_and_one_customer():
    ChannelFactory(code="douyin")
    marketer = make_user("marketing")
    at = timezone.now() - timedelta(minutes=5)

    def deliver():
        recorded = touchpoints.record_touchpoint(
            by=marketer,
            contact={"name": "Racing Rui", "phone": "13900000099"},
            channel="douyin",
            kind="impression",
            at=at,
            external_id="race-1",
        )
        return recorded.touchpoint.pk, recorded.created

    outcomes = at_once(*[deliver] * 2)
    assert sorted(created for _pk, created in outcomes) == [False, True]
    assert len({pk for pk, _created in outcomes}) == 1
    assert Touchpoint.objects.count() == 1 and Customer.objects.count() == 1


def test_two_racing_bulk_requests_that_overlap_write_each_touch_once():
    ChannelFactory(code="douyin")
    marketer = make_user("marketing")
    at = timezone.now() - timedelta(minutes=5)
    items = [
        {
            "contact": {"phone": f"1390000010{i}"},
            "channel": "douyin",
            "kind": "click",
            "at": at,
            "external_id": f"b-{i}",
        }
        for i in range(5)
    ]

    def deliver():
        outcomes = touchpoints.record_touchpoints(by=marketer, items=[dict(item) for item in items])
        return [(o.touchpoint.pk, o.created) for o in outcomes]

    first, second = at_once(*[deliver] * 2)
    assert [pk for pk, _c in first] == [pk for pk, _c in second]  # both answer with the same touchpoints
    assert all(a != b for (_p, a), (_q, b) in zip(first, second, strict=True))  # each created by exactly one
    assert Touchpoint.objects.count() == 5 and Customer.objects.count() == 5


def test_two_racing_own_writes_of_one_message_touch_record_it_once():
    ChannelFactory(code="email")
    customer = Customer.objects.create(name="Ada")
    at = timezone.now()

    def write():
        return touchpoints.record_own_touchpoint(
            customer_id=customer.pk, channel_code="email", kind="message", at=at, external_id="message:1"
        ).pk

    assert len(set(at_once(*[write] * 2))) == 1
    assert Touchpoint.objects.count() == 1
