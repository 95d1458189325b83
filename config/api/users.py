from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models import Prefetch
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from config import roles

User = get_user_model()


def staff_users():
    return (
        User.objects.filter(is_active=True)
        .filter(groups__name__in=roles.DEPARTMENTS)
        .distinct()
        .prefetch_related(Prefetch("groups", queryset=Group.objects.only("name")))
        .order_by("pk")
    )


class UserOutput(serializers.ModelSerializer):
    name = serializers.SerializerMethodField()
    department = serializers.SerializerMethodField()
    is_manager = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ["id", "username", "name", "department", "is_manager"]

    def _groups(self, user) -> frozenset[str]:
        # Uses the prefetched groups, so a list costs one extra query in total.
        if not hasattr(user, "_relay_groups"):
            user._relay_groups = frozenset(g.name for g in user.groups.all())
        return user._relay_groups

    def get_name(self, user) -> str:
        return user.get_full_name() or user.username

    def get_department(self, user) -> str | None:
        self._groups(user)
        return roles.department_of(user)

    def get_is_manager(self, user) -> bool:
        self._groups(user)
        return roles.is_manager(user)


class UserFilter(filters.FilterSet):
    department = filters.ChoiceFilter(
        field_name="groups__name", choices=[(d, roles.DEPARTMENT_LABELS[d]) for d in roles.DEPARTMENTS]
    )

    class Meta:
        model = User
        fields = ["department"]


class UserViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = UserOutput
    filterset_class = UserFilter
    search_fields = ["username", "first_name", "last_name"]
    ordering_fields = ["id"]

    def get_queryset(self):
        return staff_users()

    @extend_schema(responses=UserOutput)
    @action(detail=False, methods=["get"])
    def me(self, request):
        return Response(UserOutput(request.user).data)
