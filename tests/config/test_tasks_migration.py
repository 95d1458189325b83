"""feedback 0006: the follow-ups (FollowUpTask) become tasks with their ids, records and state, and come back on
the way down."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = [("feedback", "0005_complaint_history")]
AFTER = [("feedback", "0007_delete_followuptask")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return MigrationExecutor(connection).loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_follow_ups_become_tasks_and_back():
    apps = _migrate(BEFORE)
    try:
        now = timezone.now().replace(microsecond=0)
        User = apps.get_model("auth", "User")
        Customer = apps.get_model("customers", "Customer")
        Lead = apps.get_model("leads", "Lead")
        NpsResponse = apps.get_model("feedback", "NpsResponse")
        FollowUpTask = apps.get_model("feedback", "FollowUpTask")
        agent = User.objects.create(username="agent")
        customer = Customer.objects.create(name="Li Na")
        lead = Lead.objects.create(customer=customer, stage="won")
        answer = NpsResponse.objects.create(customer=customer, score=2, comment="Too slow", answered_at=now)
        onboarding = FollowUpTask.objects.create(
            kind="onboarding", customer=customer, lead=lead, due_at=now + timedelta(hours=72)
        )
        detractor = FollowUpTask.objects.create(
            kind="detractor",
            customer=customer,
            nps_response=answer,
            owner=agent,
            due_at=now - timedelta(hours=1),
            done_at=now,
            done_by=agent,
            outcome="Called back",
            alerted_at=now - timedelta(minutes=5),
        )
        loose = [FollowUpTask.objects.create(kind="detractor", customer=customer, due_at=now) for _ in range(2)]

        apps = _migrate(AFTER)
        Task = apps.get_model("config", "Task")
        ContentType = apps.get_model("contenttypes", "ContentType")
        types = {ct.pk: ct.model for ct in ContentType.objects.all()}
        tasks = {task.pk: task for task in Task.objects.all()}
        assert set(tasks) == {onboarding.pk, detractor.pk, *(t.pk for t in loose)}  # ids kept: old links work
        first = tasks[onboarding.pk]
        assert (first.kind, types[first.content_type_id], first.object_id) == ("onboarding", "lead", lead.pk)
        assert (first.assignee_id, first.department, first.done_at) == (None, "service", None)
        second = tasks[detractor.pk]
        assert (types[second.content_type_id], second.object_id, second.notes) == ("npsresponse", answer.pk, "Too slow")
        assert (second.assignee_id, second.done_by_id, second.outcome) == (agent.pk, agent.pk, "Called back")
        assert (second.done_at, second.alerted_at, second.reminded_at) == (
            now,
            now - timedelta(minutes=5),
            now - timedelta(minutes=5),
        )
        # No record of their own: about the customer, the second one a plain to-do (one follow-up per record).
        assert [(tasks[t.pk].kind, types[tasks[t.pk].content_type_id]) for t in loose] == [
            ("detractor", "customer"),
            ("general", "customer"),
        ]
        assert Task.objects.create(title="New", department="sales").pk > max(tasks)  # the sequence moved on
        Task.objects.filter(title="New").delete()

        apps = _migrate(BEFORE)
        FollowUpTask = apps.get_model("feedback", "FollowUpTask")
        back = {row.pk: row for row in FollowUpTask.objects.all()}
        assert set(back) == {onboarding.pk, detractor.pk, loose[0].pk}  # the plain to-do stays a task
        assert (back[onboarding.pk].lead_id, back[onboarding.pk].customer_id) == (lead.pk, customer.pk)
        assert (back[detractor.pk].nps_response_id, back[detractor.pk].outcome) == (answer.pk, "Called back")
        assert back[detractor.pk].created_at == second.created_at
        assert list(Task.objects.values_list("kind", flat=True)) == ["general"]  # config stays at its latest
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
