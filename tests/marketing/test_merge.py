"""Merging two customers whose marketing rows share a unique rule: the duplicate's row that would break it stays on
the tombstone (the survivor already has its like), the others move, and the merge never fails."""

import pytest
from django.utils import timezone

from marketing.models import Enrolment, EnrolmentStatus, MessageChannel, Unsubscribe
from tests.factories import CustomerFactory, JourneyFactory

pytestmark = pytest.mark.django_db


def test_unsubscribes_and_active_enrolments_merge_without_clashing(api_as):
    survivor, duplicate = CustomerFactory(), CustomerFactory()
    now = timezone.now()
    kept = Unsubscribe.objects.create(customer=survivor, channel=MessageChannel.EMAIL, at=now)
    same = Unsubscribe.objects.create(customer=duplicate, channel=MessageChannel.EMAIL, at=now)
    other = Unsubscribe.objects.create(customer=duplicate, channel=MessageChannel.SMS, at=now)
    journey, second = JourneyFactory(), JourneyFactory()

    def enrol(customer, journey, key):
        return Enrolment.objects.create(
            journey=journey, customer=customer, status=EnrolmentStatus.ACTIVE, entered_at=now, trigger_key=key
        )

    enrol(survivor, journey, "s")
    clashing, moving = enrol(duplicate, journey, "d"), enrol(duplicate, second, "d2")

    response = api_as("sales_manager").post(
        f"/api/v1/customers/{survivor.pk}/merge/", {"duplicate": duplicate.pk}, format="json"
    )

    assert response.status_code == 200, response.json()
    assert set(Unsubscribe.objects.filter(customer=survivor).values_list("pk", flat=True)) == {kept.pk, other.pk}
    assert Unsubscribe.objects.get(pk=same.pk).customer_id == duplicate.pk
    assert Enrolment.objects.get(pk=moving.pk).customer_id == survivor.pk
    assert Enrolment.objects.get(pk=clashing.pk).customer_id == duplicate.pk
