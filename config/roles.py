"""Roles are Django auth groups (DESIGN.md "Roles"). This module is the only place that knows them."""

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

MARKETING, SALES, SERVICE, MANAGER = "marketing", "sales", "service", "manager"
DEPARTMENTS = (MARKETING, SALES, SERVICE)
DEPARTMENT_LABELS = {MARKETING: _("Marketing"), SALES: _("Sales"), SERVICE: _("Service")}
ROLE_GROUPS = (*DEPARTMENTS, MANAGER)

RELAY_APPS = ("customers", "leads", "feedback", "marketing", "okr")

# Model permissions per group; every group also views every Relay model.
# Object-level rules (own leads only, department managers) live in each app's permissions.py.
_GROUP_MODEL_PERMISSIONS: dict[str, dict[str, tuple[str, ...]]] = {
    MARKETING: {
        "customers.customer": ("add", "change"),
        "customers.customeridentity": ("add", "change", "delete"),
        "customers.campaign": ("add", "change"),
        "customers.channel": ("add", "change"),
        "customers.channelspend": ("add", "change"),
        "customers.importjob": ("add",),
        "leads.lead": ("add", "change"),
        "leads.tag": ("add", "change"),
        "leads.activity": ("add",),
    },
    SALES: {
        "customers.customer": ("add", "change"),
        "customers.customeridentity": ("add", "change"),
        "customers.order": ("add", "change"),
        "leads.lead": ("add", "change"),
        "leads.tag": ("add",),
        "leads.activity": ("add",),
    },
    SERVICE: {
        "customers.customer": ("add", "change"),
        "customers.customeridentity": ("add", "change"),
        "customers.order": ("add", "change"),
        "feedback.complaint": ("add", "change"),
        "feedback.npsresponse": ("add", "change"),
        "feedback.npsinvitation": ("add",),
        "leads.activity": ("add",),
    },
    MANAGER: {
        "customers.customer": ("add", "change", "delete"),
        "customers.order": ("add", "change"),
        "customers.importjob": ("add",),
        "customers.channel": ("add", "change"),
        "customers.campaign": ("add", "change"),
        "customers.channelspend": ("add", "change"),
        "leads.lead": ("add", "change"),
        "feedback.complaint": ("add", "change"),
        "okr.objective": ("add", "change", "delete"),
        "okr.keyresult": ("add", "change", "delete"),
        "okr.checkin": ("add", "change"),
    },
}


def group_names(user: AbstractBaseUser) -> frozenset[str]:
    """The user's group names, cached on the user object so rows never query."""
    if not getattr(user, "is_authenticated", False):
        return frozenset()
    cached = getattr(user, "_relay_groups", None)
    if cached is None:
        cached = frozenset(user.groups.values_list("name", flat=True))
        user._relay_groups = cached
    return cached


def department_of(user) -> str | None:
    names = group_names(user)
    return next((d for d in DEPARTMENTS if d in names), None)


def is_admin(user) -> bool:
    """An admin is an active superuser (DESIGN.md "Roles"): the only one who manages webhook endpoints."""
    return bool(getattr(user, "is_authenticated", False) and user.is_active and getattr(user, "is_superuser", False))


def is_manager(user) -> bool:
    return MANAGER in group_names(user) or bool(getattr(user, "is_superuser", False))


def is_manager_of(user, department: str | None) -> bool:
    if getattr(user, "is_superuser", False):
        return True
    return MANAGER in group_names(user) and department is not None and department_of(user) == department


def in_department(user, department: str) -> bool:
    return getattr(user, "is_superuser", False) or department_of(user) == department


def is_staff_member(user) -> bool:
    """Signed in and either an admin or in a department."""
    return bool(getattr(user, "is_authenticated", False)) and (
        getattr(user, "is_superuser", False) or department_of(user) is not None
    )


def members(department: str | None = None, *, managers_only: bool = False):
    """Active users of a department (of any department when None), or only its managers, by username."""
    from django.contrib.auth import get_user_model

    User = get_user_model()
    qs = User.objects.filter(is_active=True)
    qs = qs.filter(groups__name=department) if department else qs.filter(groups__name__in=DEPARTMENTS)
    if managers_only:
        qs = qs.filter(pk__in=User.objects.filter(groups__name=MANAGER).values("pk"))
    return qs.distinct().order_by("username")


def sync_role_permissions(apps=None) -> None:
    """Create the role groups and give them their model permissions (idempotent)."""
    from django.apps import apps as global_apps

    apps = apps or global_apps
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    view_perms = list(Permission.objects.filter(content_type__app_label__in=RELAY_APPS, codename__startswith="view_"))
    for name in ROLE_GROUPS:
        group, _created = Group.objects.get_or_create(name=name)
        wanted = list(view_perms)
        for model_label, actions in _GROUP_MODEL_PERMISSIONS.get(name, {}).items():
            app_label, model = model_label.split(".")
            codenames = [f"{action}_{model}" for action in actions]
            wanted += Permission.objects.filter(content_type__app_label=app_label, codename__in=codenames)
        group.permissions.add(*wanted)


def sync_role_permissions_signal(sender, **kwargs):
    """post_migrate, heard for every app: auth creates each app's permissions as the signal reaches that app, so
    the groups are synced once the last app with models has had its turn (a new model's permissions exist then,
    without a data migration per model)."""
    from django.apps import apps as global_apps

    last = [app for app in global_apps.get_app_configs() if app.models_module is not None][-1]
    if sender is last:
        sync_role_permissions()


def _person_label(user) -> str:
    return user.get_full_name() or user.username


def pick_people(department: str | None = None):
    """Picker search over active members (of `department`, else of any department) by name or username."""

    def search(typed: str, limit: int) -> list[tuple[int, str]]:
        match = Q(username__icontains=typed) | Q(first_name__icontains=typed) | Q(last_name__icontains=typed)
        people = members(department).filter(match).only("pk", "username", "first_name", "last_name")[:limit]
        return [(person.pk, _person_label(person)) for person in people]

    return search


def person_label(pk: int) -> str | None:
    person = members().filter(pk=pk).only("pk", "username", "first_name", "last_name").first()
    return _person_label(person) if person else None
