from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from config import events
from config.models import Notification, Task
from tests.factories import LeadFactory, make_user


def test_won_lead_opens_one_onboarding_task_and_tells_service_once(db, settings):
    settings.RELAY_ONBOARDING_TASK_HOURS = 24
    service, manager, sales = make_user("service"), make_user("service_manager"), make_user("sales")
    lead = LeadFactory()
    before = timezone.now()

    for _ in range(2):  # a redelivered event opens nothing more
        events.publish("lead.won", lead=lead.pk, customer=lead.customer_id, by=sales.pk, at=timezone.now())

    assert Task.objects.filter(lead=lead).count() == 1  # a task about the lead (its GenericRelation)
    task = Task.objects.get(lead=lead)
    assert task.kind == "onboarding"
    assert task.about == lead and lead.customer_id == task.about.customer_id
    assert (task.assignee, task.department) == (None, "service")  # the service queue
    assert before + timedelta(hours=24) <= task.due_at <= timezone.now() + timedelta(hours=24)
    notes = Notification.objects.filter(kind="feedback.onboarding")
    assert sorted(notes.values_list("recipient_id", flat=True)) == sorted([service.pk, manager.pk])
    assert notes.first().url == reverse("tasks:task-detail", args=[task.pk])
    assert not Notification.objects.filter(recipient=sales).exists()
