"""factory_boy factories for accounts models (tests and local data only)."""

from __future__ import annotations

import factory

from apps.accounts import services
from apps.accounts.models import ApiToken, User
from opsconductor.roles import Role

DEFAULT_PASSWORD = "correct horse battery staple"


class UserFactory(factory.django.DjangoModelFactory):
    """A user whose password is ``DEFAULT_PASSWORD`` unless ``password=`` says otherwise."""

    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    # Derived, not random: a random name ("Carla") could match a test's search by chance.
    first_name = factory.LazyAttribute(lambda u: u.username.capitalize())
    last_name = "Tester"
    role = Role.VIEWER
    is_auditor = False
    is_active = True

    @factory.post_generation
    def password(self, create, extracted, **kwargs):
        self.set_password(extracted or DEFAULT_PASSWORD)
        if create:
            self.save(update_fields=["password"])

    class Params:
        admin = factory.Trait(role=Role.ADMIN)
        manager = factory.Trait(role=Role.MANAGER)
        operator = factory.Trait(role=Role.OPERATOR)


class ApiTokenFactory(factory.django.DjangoModelFactory):
    """An API token; its full value is left on the instance as ``value`` (tests only)."""

    class Meta:
        model = ApiToken
        exclude = ("generated",)

    user = factory.SubFactory(UserFactory)
    name = factory.Sequence(lambda n: f"token-{n}")
    generated = factory.LazyFunction(services.new_token_value)
    prefix = factory.LazyAttribute(lambda t: t.generated[1])
    digest = factory.LazyAttribute(lambda t: t.generated[2])
    value = factory.LazyAttribute(lambda t: t.generated[0])
    expires_at = None

    @classmethod
    def _create(cls, model_class, *args, value=None, **kwargs):
        token = super()._create(model_class, *args, **kwargs)
        token.value = value
        return token

    @classmethod
    def _build(cls, model_class, *args, value=None, **kwargs):
        token = super()._build(model_class, *args, **kwargs)
        token.value = value
        return token
