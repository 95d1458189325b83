"""Service follow-ups become tasks (config.Task): each FollowUpTask row is copied with its id, so old links
(/feedback/follow-ups/<id>/ redirects to /tasks/<id>/) and notifications still lead to it.

An onboarding follow-up is about its lead, a detractor follow-up about its NPS answer; one without its record
(none is made so) is about the customer, and a second such one of the same customer becomes a plain to-do, as
the once-per-record rule allows one follow-up of a kind per record. The reverse copies the follow-up tasks back.
"""

from django.core.management.color import no_style
from django.db import migrations

SERVICE = "service"
RECORDS = {"lead": ("leads", "lead"), "nps_response": ("feedback", "npsresponse"), "customer": ("customers", "customer")}


def _content_types(apps) -> dict[str, int]:
    ContentType = apps.get_model("contenttypes", "ContentType")
    return {
        name: ContentType.objects.get_or_create(app_label=app_label, model=model)[0].pk
        for name, (app_label, model) in RECORDS.items()
    }


def _reset_sequence(schema_editor, model) -> None:
    for statement in schema_editor.connection.ops.sequence_reset_sql(no_style(), [model]):
        schema_editor.execute(statement)


def copy_follow_ups(apps, schema_editor):
    FollowUpTask = apps.get_model("feedback", "FollowUpTask")
    NpsResponse = apps.get_model("feedback", "NpsResponse")
    Task = apps.get_model("config", "Task")
    types = _content_types(apps)
    comments = dict(NpsResponse.objects.filter(follow_up__isnull=False).values_list("pk", "comment"))
    taken, rows = set(), []
    for old in FollowUpTask.objects.order_by("pk").iterator():
        if old.kind == "detractor" and old.nps_response_id:
            record = ("nps_response", old.nps_response_id)
        elif old.kind == "onboarding" and old.lead_id:
            record = ("lead", old.lead_id)
        else:
            record = ("customer", old.customer_id)
        kind = old.kind if (old.kind, record) not in taken else "general"
        taken.add((kind, record))
        rows.append(
            Task(
                id=old.pk,
                kind=kind,
                title="",
                notes=comments.get(old.nps_response_id, "") if old.nps_response_id else "",
                due_at=old.due_at,
                assignee_id=old.owner_id,
                department=SERVICE,
                content_type_id=types[record[0]],
                object_id=record[1],
                created_at=old.created_at,
                done_at=old.done_at,
                done_by_id=old.done_by_id,
                outcome=old.outcome,
                alerted_at=old.alerted_at,
                # A follow-up past due, or already alerted, needs no reminder now.
                reminded_at=old.alerted_at,
            )
        )
        if len(rows) >= 1000:
            Task.objects.bulk_create(rows)
            rows = []
    Task.objects.bulk_create(rows)
    _reset_sequence(schema_editor, Task)  # the copies kept their ids: new tasks number after them


def copy_back(apps, schema_editor):
    FollowUpTask = apps.get_model("feedback", "FollowUpTask")
    NpsResponse = apps.get_model("feedback", "NpsResponse")
    Lead = apps.get_model("leads", "Lead")
    Task = apps.get_model("config", "Task")
    types = {pk: name for name, pk in _content_types(apps).items()}
    follow_ups = Task.objects.filter(kind__in=["onboarding", "detractor"], content_type_id__in=types)
    refs = list(follow_ups.values_list("content_type_id", "object_id"))
    lead_customers = dict(
        Lead.objects.filter(pk__in=[pk for ct, pk in refs if types[ct] == "lead"]).values_list("pk", "customer_id")
    )
    answer_customers = dict(
        NpsResponse.objects.filter(pk__in=[pk for ct, pk in refs if types[ct] == "nps_response"]).values_list(
            "pk", "customer_id"
        )
    )
    # created_at is auto_now_add on this (historical) model: keep each task's own.
    FollowUpTask._meta.get_field("created_at").auto_now_add = False
    rows = []
    for task in follow_ups.order_by("pk").iterator():
        record = types[task.content_type_id]
        customer_id = {
            "lead": lead_customers.get(task.object_id),
            "nps_response": answer_customers.get(task.object_id),
            "customer": task.object_id,
        }[record]
        if customer_id is None:
            continue
        rows.append(
            FollowUpTask(
                id=task.pk,
                kind=task.kind,
                customer_id=customer_id,
                nps_response_id=task.object_id if record == "nps_response" else None,
                lead_id=task.object_id if record == "lead" else None,
                owner_id=task.assignee_id,
                due_at=task.due_at or task.created_at,
                done_at=task.done_at,
                outcome=task.outcome,
                done_by_id=task.done_by_id,
                alerted_at=task.alerted_at,
                created_at=task.created_at,
            )
        )
    FollowUpTask.objects.bulk_create(rows, batch_size=1000)
    follow_ups.delete()
    _reset_sequence(schema_editor, FollowUpTask)


class Migration(migrations.Migration):
    dependencies = [
        ("feedback", "0005_complaint_history"),
        ("config", "0007_task"),
        ("leads", "0001_initial"),
        ("customers", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(copy_follow_ups, copy_back)]
