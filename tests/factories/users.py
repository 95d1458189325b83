import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from config.models import Notification

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
