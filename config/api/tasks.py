"""`/api/v1/tasks/` (DESIGN.md "REST API contract"): every department's tasks; `tasks/{id}/done/` completes one.

Thin: shapes in, one config.todo service or selector, shapes out. Who may do what is config.todo's.
"""

import re

import django_filters as filters
from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.response import Response

from config import about, roles, todo
from config.api.concurrency import ETagMixin, etag_for
from config.api.fields import MAX_ID, Id, Moment, Text, require_whole_object
from config.filters import MomentFilter, YesNoFilter
from config.models import Task, TaskKind

User = get_user_model()

DEPARTMENT_CHOICES = [(code, roles.DEPARTMENT_LABELS[code]) for code in roles.DEPARTMENTS]


# ---------------------------------------------------------------- filters


class AssigneeField(forms.CharField):
    """`me`, `none` (a department's queue) or a person's id."""

    def clean(self, value):
        value = super().clean(value)
        if value in ("", None, "me", "none"):
            return value
        if value.isascii() and value.isdigit() and 1 <= int(value) <= MAX_ID:
            return int(value)
        raise forms.ValidationError(_("Give a person's id, “me” or “none”."), code="invalid")


class AboutField(forms.CharField):
    """`<kind>:<id>`, e.g. `lead:12`: the tasks about that record."""

    _SHAPE = re.compile(r"([a-z_]{1,50}):([0-9]{1,19})")

    def clean(self, value):
        value = super().clean(value)
        if not value:
            return value
        match = self._SHAPE.fullmatch(value.strip())
        if match is None or about.get(match.group(1)) is None or not 1 <= int(match.group(2)) <= MAX_ID:
            raise forms.ValidationError(
                _("Name the record as <kind>:<id>, a kind being one of: %(kinds)s.")
                % {"kinds": ", ".join(about.kinds())},
                code="invalid",
            )
        return match.group(1), int(match.group(2))


class AssigneeFilter(filters.CharFilter):
    field_class = AssigneeField


class AboutFilter(filters.CharFilter):
    field_class = AboutField


class TaskFilter(filters.FilterSet):
    assignee = AssigneeFilter(method="filter_assignee", label=gettext_lazy("Assignee"))
    department = filters.ChoiceFilter(choices=DEPARTMENT_CHOICES, label=gettext_lazy("Department"))
    kind = filters.ChoiceFilter(choices=TaskKind.choices, label=gettext_lazy("Kind"))
    is_done = YesNoFilter(field_name="done_at", lookup_expr="isnull", exclude=True, label=gettext_lazy("Done"))
    is_overdue = YesNoFilter(method="filter_overdue", label=gettext_lazy("Overdue"))
    due_after = MomentFilter(field_name="due_at", lookup_expr="gte", label=gettext_lazy("Due from"))
    due_before = MomentFilter(field_name="due_at", lookup_expr="lt", label=gettext_lazy("Due before"))
    about = AboutFilter(method="filter_about", label=gettext_lazy("About"))

    class Meta:
        model = Task
        fields = []

    def filter_assignee(self, queryset, name, value):
        if value == "me":
            return queryset.filter(assignee=self.request.user)
        if value == "none":
            return queryset.filter(assignee__isnull=True)
        return queryset.filter(assignee_id=value) if value else queryset

    def filter_overdue(self, queryset, name, value):
        if value is None:
            return queryset
        overdue = Q(done_at__isnull=True, due_at__lt=timezone.now())
        return queryset.filter(overdue) if value else queryset.exclude(overdue)

    def filter_about(self, queryset, name, value):
        if not value:
            return queryset
        kind, pk = value
        return queryset.filter(todo.about_filter(kind, [pk]))


# ---------------------------------------------------------------- shapes


class AboutOutput(serializers.Serializer):
    type = serializers.CharField(help_text="A kind of record: lead, customer, complaint, nps_response.")
    id = serializers.IntegerField()
    label = serializers.CharField()


class AboutInput(serializers.Serializer):
    """`{"type": "lead", "id": 5}`: the record a task is about (validated into that record)."""

    type = Text(max_length=50, help_text="A kind of record: lead, customer, complaint, nps_response.")
    id = serializers.IntegerField(min_value=1, max_value=MAX_ID)

    def validate_type(self, value):
        if about.get(value) is None:
            raise serializers.ValidationError(
                _("Tasks are about one of: %(kinds)s.") % {"kinds": ", ".join(about.kinds())}, code="invalid"
            )
        return value

    def validate(self, attrs):
        record = about.find(attrs["type"], attrs["id"])
        if record is None:
            raise serializers.ValidationError({"id": [_("No such record.")]}, code="does_not_exist")
        return record


class TaskOutput(serializers.ModelSerializer):
    title = serializers.CharField(source="display_title", read_only=True)
    assignee = serializers.IntegerField(source="assignee_id", allow_null=True, read_only=True)
    department = serializers.SerializerMethodField()
    about = serializers.SerializerMethodField()
    created_by = serializers.IntegerField(source="created_by_id", allow_null=True, read_only=True)
    done_by = serializers.IntegerField(source="done_by_id", allow_null=True, read_only=True)
    is_overdue = serializers.SerializerMethodField()

    class Meta:
        model = Task
        fields = [
            "id",
            "title",
            "notes",
            "kind",
            "due_at",
            "assignee",
            "department",
            "about",
            "created_by",
            "created_at",
            "updated_at",
            "done_at",
            "done_by",
            "outcome",
            "is_overdue",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=DEPARTMENT_CHOICES, allow_null=True))
    def get_department(self, task) -> str | None:
        return task.department or None

    @extend_schema_field(AboutOutput(allow_null=True))
    def get_about(self, task) -> dict | None:
        found = getattr(task, "about_info", None)
        return found.as_dict() if found is not None else None

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_is_overdue(self, task) -> bool:
        return task.is_overdue(self.context.get("now") or timezone.now())


class TaskUpdateInput(serializers.Serializer):
    title = Text(max_length=todo.TITLE_MAX, required=False, allow_blank=True)
    notes = Text(required=False, allow_blank=True)
    due_at = Moment(required=False, allow_null=True)
    # null: the department's queue (`department`, else the one it is in).
    assignee = Id(queryset=User.objects.all(), required=False, allow_null=True)
    department = serializers.ChoiceField(choices=DEPARTMENT_CHOICES, required=False, allow_blank=True)


class TaskCreateInput(TaskUpdateInput):
    title = Text(max_length=todo.TITLE_MAX)
    kind = serializers.ChoiceField(choices=[(k.value, k.label) for k in todo.CREATABLE_KINDS], default=TaskKind.GENERAL)
    about = AboutInput(required=False, allow_null=True)


class DoneInput(serializers.Serializer):
    outcome = Text(required=False, allow_blank=True, default="")


# ---------------------------------------------------------------- views


class TaskPermission(BasePermission):
    """Every staff member reads; writing one task is for who may work it (config.todo.may_act)."""

    def has_permission(self, request, view):
        return todo.may_view(request.user)

    def has_object_permission(self, request, view, obj):
        return request.method in SAFE_METHODS or todo.may_act(request.user, obj)


class TaskViewSet(ETagMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Tasks of every department, newest first. Filters: assignee (`me`, `none`, an id), department, kind,
    is_done, is_overdue, due_after, due_before, about (`lead:12`)."""

    permission_classes = [TaskPermission]
    filterset_class = TaskFilter
    serializer_class = TaskOutput
    ordering_fields = ["id"]
    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]

    def get_queryset(self):
        return todo.tasks()

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "now": timezone.now()}

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        rows = about.attach(page)  # one query per kind of record on the page
        return self.get_paginated_response(self.get_serializer(rows, many=True).data)

    def read_one(self):
        task = self.get_object()
        about.attach([task])
        return self.get_serializer(task).data, etag_for(task)

    def _answer(self, task: Task, status_code=status.HTTP_200_OK) -> Response:
        fresh = todo.task_detail(pk=task.pk)
        response = Response(self.get_serializer(fresh).data, status=status_code)
        response["ETag"] = etag_for(fresh)
        return response

    @extend_schema(request=TaskCreateInput, responses={201: TaskOutput})
    def create(self, request, *args, **kwargs):
        """A task for `assignee`, or (assignee null) for `department`'s queue; with neither, for yourself."""
        data = TaskCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        if "assignee" not in fields and not fields.get("department"):
            fields["assignee"] = request.user
        task = todo.create_task(
            by=request.user,
            title=fields.pop("title"),
            about_record=fields.pop("about", None),
            **fields,
        )
        return self._answer(task, status.HTTP_201_CREATED)

    @extend_schema(request=TaskUpdateInput, responses=TaskOutput)
    def update(self, request, *args, **kwargs):
        require_whole_object(request, TaskUpdateInput)
        data = TaskUpdateInput(data=request.data, partial=kwargs.get("partial", False))
        data.is_valid(raise_exception=True)
        task = todo.update_task(task=self.get_object(), by=request.user, **data.validated_data)
        return self._answer(task)

    @extend_schema(request=TaskUpdateInput, responses=TaskOutput)
    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, partial=True, **kwargs)

    def destroy(self, request, *args, **kwargs):
        todo.delete_task(task=self.get_object(), by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=DoneInput, responses=TaskOutput)
    @action(detail=True, methods=["post"])
    def done(self, request, pk=None):
        """Mark the task done with what was done (required for onboarding and detractor follow-ups); done twice is
        409 `already_done`."""
        data = DoneInput(data=request.data)
        data.is_valid(raise_exception=True)
        return self._answer(todo.complete_task(task=self.get_object(), by=request.user, **data.validated_data))

    @extend_schema(request=None, responses=TaskOutput)
    @action(detail=True, methods=["post"])
    def reopen(self, request, pk=None):
        return self._answer(todo.reopen_task(task=self.get_object(), by=request.user))
