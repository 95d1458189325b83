from django.shortcuts import get_object_or_404
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.response import Response

from config.api.concurrency import ETagMixin
from config.api.fields import require_whole_object
from config.roles import DEPARTMENT_LABELS
from okr import metrics, selectors, services
from okr.api.serializers import (
    CheckInInput,
    CheckInOutput,
    KeyResultInput,
    KeyResultOutput,
    ObjectiveInput,
    ObjectiveOutput,
)
from okr.models import CheckIn, KeyResult, Objective


class ObjectiveFilter(filters.FilterSet):
    department = filters.ChoiceFilter(choices=list(DEPARTMENT_LABELS.items()))

    class Meta:
        model = Objective
        fields = ["department", "quarter", "owner"]


class ObjectiveViewSet(ETagMixin, viewsets.ModelViewSet):
    serializer_class = ObjectiveOutput
    filterset_class = ObjectiveFilter
    search_fields = ["title"]
    ordering_fields = ["id"]

    def get_queryset(self):
        return Objective.objects.prefetch_related("key_results").order_by("pk")

    @extend_schema(request=ObjectiveInput, responses={201: ObjectiveOutput})
    def create(self, request, *args, **kwargs):
        data = ObjectiveInput(data=request.data)
        data.is_valid(raise_exception=True)
        objective = services.create_objective(by=request.user, **data.validated_data)
        return Response(ObjectiveOutput(objective).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ObjectiveInput, responses=ObjectiveOutput)
    def update(self, request, *args, partial=False, **kwargs):
        objective = self.get_object()
        require_whole_object(request, ObjectiveInput)
        data = ObjectiveInput(data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        objective = services.update_objective(objective=objective, by=request.user, **data.validated_data)
        return Response(ObjectiveOutput(objective).data)

    def destroy(self, request, *args, **kwargs):
        services.delete_objective(objective=self.get_object(), by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class KeyResultFilter(filters.FilterSet):
    quarter = filters.CharFilter(field_name="objective__quarter")
    department = filters.ChoiceFilter(field_name="objective__department", choices=list(DEPARTMENT_LABELS.items()))

    class Meta:
        model = KeyResult
        fields = ["objective", "metric", "quarter", "department"]


class KeyResultViewSet(ETagMixin, viewsets.ModelViewSet):
    serializer_class = KeyResultOutput
    filterset_class = KeyResultFilter
    search_fields = ["title"]
    ordering_fields = ["id"]

    def get_queryset(self):
        return selectors.key_results_with_check_in().order_by("pk")

    def list(self, request, *args, **kwargs):
        with metrics.batch():  # the page's metric bindings computed together (see metrics.batch)
            response = super().list(request, *args, **kwargs)
            response.data = dict(response.data)  # evaluate the serializer (and its metrics) inside
        return response

    @extend_schema(request=KeyResultInput, responses={201: KeyResultOutput})
    def create(self, request, *args, **kwargs):
        data = KeyResultInput(data=request.data)
        data.is_valid(raise_exception=True)
        key_result = services.create_key_result(by=request.user, **data.validated_data)
        return Response(self._out(key_result.pk), status=status.HTTP_201_CREATED)

    @extend_schema(request=KeyResultInput, responses=KeyResultOutput)
    def update(self, request, *args, partial=False, **kwargs):
        key_result = self.get_object()
        require_whole_object(request, KeyResultInput)
        data = KeyResultInput(data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        key_result = services.update_key_result(key_result=key_result, by=request.user, **data.validated_data)
        return Response(self._out(key_result.pk))

    def destroy(self, request, *args, **kwargs):
        services.delete_key_result(key_result=self.get_object(), by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _out(self, pk: int) -> dict:
        return KeyResultOutput(self.get_queryset().get(pk=pk), context=self.get_serializer_context()).data


class CheckInViewSet(ETagMixin, viewsets.ModelViewSet):
    """`key-results/{id}/check-ins/`: a key result's check-ins, newest first."""

    serializer_class = CheckInOutput
    filterset_fields = []
    ordering_fields = ["id"]

    def key_result(self) -> KeyResult:
        if not hasattr(self, "_key_result"):
            self._key_result = get_object_or_404(
                KeyResult.objects.select_related("objective"), pk=self.kwargs["key_result_pk"]
            )
        return self._key_result

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no URL kwargs
            return CheckIn.objects.none()
        return CheckIn.objects.filter(key_result=self.key_result()).order_by("-pk")

    @extend_schema(request=CheckInInput, responses={201: CheckInOutput, 200: CheckInOutput})
    def create(self, request, *args, **kwargs):
        """The week's check-in: 201 when it is the first of this ISO week, 200 when it updates that one."""
        data = CheckInInput(data=request.data)
        data.is_valid(raise_exception=True)
        check_in = services.add_check_in(key_result=self.key_result(), by=request.user, **data.validated_data)
        return Response(
            CheckInOutput(check_in).data, status=status.HTTP_201_CREATED if check_in.created else status.HTTP_200_OK
        )

    @extend_schema(request=CheckInInput, responses=CheckInOutput)
    def update(self, request, *args, partial=False, **kwargs):
        require_whole_object(request, CheckInInput)
        data = CheckInInput(data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        check_in = services.update_check_in(check_in=self.get_object(), by=request.user, **data.validated_data)
        return Response(CheckInOutput(check_in).data)

    def destroy(self, request, *args, **kwargs):
        services.delete_check_in(check_in=self.get_object(), by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
