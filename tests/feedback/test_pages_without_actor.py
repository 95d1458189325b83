"""Pages still render when the person behind a record is gone (deleted user, or a change made by the system)."""

import pytest
from django.urls import reverse
from django.utils import timezone

from feedback.models import ComplaintStatus
from tests.factories.feedback import ComplaintFactory, ComplaintStatusChangeFactory, FollowUpTaskFactory

pytestmark = pytest.mark.django_db


def test_follow_up_done_by_nobody_renders(client_as):
    task = FollowUpTaskFactory(done_at=timezone.now(), done_by=None, outcome="Closed by the system.")
    response = client_as("service").get(reverse("feedback:follow-up-detail", args=[task.pk]), follow=True)
    assert response.status_code == 200
    assert "Closed by the system." in response.content.decode() and "system" in response.content.decode()


def test_complaint_history_with_a_system_change_renders(client_as):
    complaint = ComplaintFactory()
    ComplaintStatusChangeFactory(complaint=complaint, from_status="", to_status=ComplaintStatus.OPEN, by=None)
    response = client_as("service").get(reverse("feedback:complaint-detail", args=[complaint.pk]))
    assert response.status_code == 200
    assert "system" in response.content.decode()
