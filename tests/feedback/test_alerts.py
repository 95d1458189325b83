from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from config import tasks as config_tasks
from config import todo
from config.models import Notification, Task
from feedback import services, tasks
from tests.factories import CustomerFactory, make_user

pytestmark = pytest.mark.django_db


def test_unanswered_detractor_follow_up_alerts_the_manager_exactly_once(client_as):
    manager = make_user("service_manager")
    service = make_user("service")
    # Past its due time in business hours whatever the weekday: a week ago.
    answer = services.record_nps_response(
        by=service, customer=CustomerFactory(), score=2, now=timezone.now() - timedelta(days=7)
    )
    task = Task.objects.get(kind="detractor", object_id=answer.pk)
    assert task.due_at < timezone.now()

    config_tasks.alert_overdue_tasks.delay()  # the follow-up is a task: the task beat alerts it
    config_tasks.alert_overdue_tasks.delay()

    alerts = Notification.objects.filter(kind="tasks.overdue")
    assert list(alerts.values_list("recipient_id", flat=True)) == [manager.pk]  # the queue's manager
    assert "Detractor follow-up" in alerts.get().message and answer.customer.name in alerts.get().message
    assert Task.objects.get().alerted_at is not None

    # completing it records what was done, through the page (old follow-up links lead to it)
    client = client_as("service", user=service)
    url = reverse("feedback:follow-up-detail", args=[task.pk])
    assert client.get(url).url == reverse("tasks:task-detail", args=[task.pk])
    done_url = reverse("tasks:task-done", args=[task.pk])
    assert client.post(done_url, {"outcome": ""}).status_code == 422
    assert client.post(done_url, {"outcome": "Called, offered a voucher."}).status_code == 302
    done = Task.objects.get()
    assert (done.outcome, done.done_by) == ("Called, offered a voucher.", service)
    assert "Called, offered a voucher." in client.get(client.get(url).url).content.decode()


def test_follow_up_done_in_time_raises_no_alert(db):
    make_user("service_manager")
    service = make_user("service")
    answer = services.record_nps_response(by=service, customer=CustomerFactory(), score=0)
    todo.complete_task(task=Task.objects.get(object_id=answer.pk), by=service, outcome="Apologised")
    todo.alert_overdue_tasks(now=timezone.now() + timedelta(days=30))
    assert not Notification.objects.filter(kind="tasks.overdue").exists()


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
    assert services.check_service_slas() == {"first_response": 0, "resolution": 0}
