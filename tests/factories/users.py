from datetime import timedelta

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from config.models import Notification, Task, TaskKind

User = get_user_model()


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ["username"]
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("relay-test-pass")

    @factory.post_generation
    def groups(self, create, extracted, **kwargs):
        """`UserFactory(groups=["sales", "manager"])`."""
        if create and extracted:
            self.groups.add(*[Group.objects.get_or_create(name=name)[0] for name in extracted])


def make_user(role: str, **kwargs):
    """A user of a role: marketing, sales, service, or '<dept>_manager', or admin."""
    if role == "admin":
        return UserFactory(is_superuser=True, is_staff=True, **kwargs)
    if role.endswith("_manager"):
        return UserFactory(groups=[role.removesuffix("_manager"), "manager"], is_staff=True, **kwargs)
    return UserFactory(groups=[role], is_staff=True, **kwargs)


class NotificationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Notification

    recipient = factory.SubFactory(UserFactory)
    kind = "info"
    message = "Something happened."


class TaskFactory(factory.django.DjangoModelFactory):
    """A to-do for a new sales user, due tomorrow; `about_record=` a lead, customer, complaint or NPS answer;
    `assignee=None, department="service"` puts it in a queue."""

    class Meta:
        model = Task

    class Params:
        about_record = None

    title = factory.Sequence(lambda n: f"Task {n}")
    kind = TaskKind.GENERAL
    assignee = factory.SubFactory(UserFactory, groups=["sales"])
    department = factory.LazyAttribute(lambda task: "sales" if task.assignee is not None else "service")
    due_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=1))
    content_type = factory.LazyAttribute(
        lambda task: ContentType.objects.get_for_model(task.about_record) if task.about_record is not None else None
    )
    object_id = factory.LazyAttribute(lambda task: task.about_record.pk if task.about_record is not None else None)
