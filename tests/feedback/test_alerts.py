from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from config.models import Notification
from feedback import services, tasks
from feedback.models import FollowUpTask
from tests.factories import CustomerFactory, make_user

pytestmark = pytest.mark.django_db


def test_unanswered_detractor_follow_up_alerts_the_manager_exactly_once(client_as):
    manager = make_user("service_manager")
    service = make_user("service")
    answer = services.record_nps_response(
        by=service, customer=CustomerFactory(), score=2, now=timezone.now() - timedelta(hours=49)
    )
    task = answer.follow_up
    assert task.due_at < timezone.now()

    tasks.check_service_slas.delay()
    tasks.check_service_slas.delay()

    alerts = Notification.objects.filter(kind="feedback.follow_up_overdue")
    assert list(alerts.values_list("recipient_id", flat=True)) == [manager.pk]
    assert FollowUpTask.objects.get().alerted_at is not None

    # completing it records what was done, through the page
    client = client_as("service", user=service)
    url = reverse("feedback:follow-up-detail", args=[task.pk])
    assert client.post(url, {"outcome": ""}).status_code == 422
    assert client.post(url, {"outcome": "Called, offered a voucher."}).status_code == 302
    done = FollowUpTask.objects.get()
    assert (done.outcome, done.done_by) == ("Called, offered a voucher.", service)
    assert "Called, offered a voucher." in client.get(url).content.decode()


def test_follow_up_done_in_time_raises_no_alert(db):
    make_user("service_manager")
    service = make_user("service")
    answer = services.record_nps_response(by=service, customer=CustomerFactory(), score=0)
    services.complete_follow_up(task=answer.follow_up, by=service, outcome="Apologised")
    tasks.check_service_slas.delay()
    assert not Notification.objects.filter(kind="feedback.follow_up_overdue").exists()


def test_complaint_breaches_alert_owner_and_manager_once_each(db):
    manager = make_user("service_manager")
    owner = make_user("service")
    opened = timezone.now() - timedelta(hours=80)
    complaint = services.create_complaint(
        by=owner, owner=owner, customer=CustomerFactory(), category="product", description="x", now=opened
    )
    responded = services.create_complaint(
        by=owner, owner=owner, customer=CustomerFactory(), category="product", description="y", now=opened
    )
    services.transition_complaint(complaint=responded, by=owner, status="in_progress", now=opened + timedelta(hours=1))

    tasks.check_service_slas.delay()
    tasks.check_service_slas.delay()

    first = Notification.objects.filter(kind="feedback.complaint_first_response_breach")
    late = Notification.objects.filter(kind="feedback.complaint_resolution_breach")
    assert sorted(first.values_list("recipient_id", flat=True)) == sorted([owner.pk, manager.pk])
    assert all(f"#{complaint.pk} " in n.message for n in first)
    assert late.count() == 4  # both complaints are unresolved past 72 h: owner + manager each
    assert services.check_service_slas() == {"first_response": 0, "resolution": 0, "follow_up": 0}
