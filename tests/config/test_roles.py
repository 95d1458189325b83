import pytest
from django.apps import apps
from django.contrib.auth.models import Group

from config import roles
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def test_migrate_creates_the_role_groups_with_permissions():
    groups = {g.name: g for g in Group.objects.prefetch_related("permissions")}
    assert set(roles.ROLE_GROUPS) <= set(groups)
    codes = {name: {p.codename for p in g.permissions.all()} for name, g in groups.items()}
    assert {"add_lead", "view_customer"} <= codes["marketing"]
    assert "add_complaint" in codes["service"] and "add_complaint" not in codes["marketing"]
    assert "add_objective" in codes["manager"] and "add_objective" not in codes["sales"]


def test_migrate_gives_every_role_the_view_permission_of_every_relay_model():
    # The groups are synced after the last app's permissions exist, so a model added by a later migration (the
    # touchpoints, say) is readable by staff on a fresh database without a second `migrate`.
    wanted = {
        f"view_{model._meta.model_name}"
        for app_label in roles.RELAY_APPS
        for model in apps.get_app_config(app_label).get_models()
    }
    for name in roles.DEPARTMENTS:
        codes = set(Group.objects.get(name=name).permissions.values_list("codename", flat=True))
        assert wanted - codes == set(), name


@pytest.mark.parametrize(
    ("role", "department", "manager"),
    [
        ("marketing", "marketing", False),
        ("sales", "sales", False),
        ("service", "service", False),
        ("sales_manager", "sales", True),
        ("admin", None, True),
    ],
)
def test_department_and_manager_come_from_groups(role, department, manager):
    user = make_user(role)
    assert roles.department_of(user) == department
    assert roles.is_manager(user) is manager
    assert roles.is_staff_member(user)


def test_manager_of_one_department_is_not_manager_of_another():
    manager = make_user("sales_manager")
    assert roles.is_manager_of(manager, "sales")
    assert not roles.is_manager_of(manager, "service")


def test_groups_are_read_once_per_user(django_assert_num_queries):
    user = make_user("service")
    user = type(user).objects.get(pk=user.pk)
    with django_assert_num_queries(1):
        for _ in range(5):
            roles.department_of(user)
            roles.is_manager(user)


def test_a_user_without_department_is_not_staff():
    from tests.factories import UserFactory

    assert not roles.is_staff_member(UserFactory())
