"""factory_boy factories shared by every app's tests."""

from __future__ import annotations

from typing import Any

import factory
from factory.django import DjangoModelFactory

from buttress.accounts.models import Role, Team, User
from buttress.assets.models import Asset
from buttress.desk.models import Ticket
from buttress.desk.services.tickets import next_number
from buttress.tenancy.models import Contact, Organization, Site

PASSWORD = "correct-horse-battery-staple"


class OrganizationFactory(DjangoModelFactory[Organization]):
    class Meta:
        model = Organization
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Customer {n}")
    slug = factory.Sequence(lambda n: f"customer-{n}")


class SiteFactory(DjangoModelFactory[Site]):
    class Meta:
        model = Site

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Site {n}")
    timezone = "Europe/London"


class ContactFactory(DjangoModelFactory[Contact]):
    class Meta:
        model = Contact

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Contact {n}")
    email = factory.Sequence(lambda n: f"contact{n}@customer.example")


class UserFactory(DjangoModelFactory[User]):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@buttress.example")
    full_name = factory.Sequence(lambda n: f"User {n}")
    role = Role.AGENT
    organization = None

    @factory.post_generation
    def password(obj: User, create: bool, extracted: str | None, **kwargs: Any) -> None:  # noqa: N805
        obj.set_password(extracted or PASSWORD)
        if create:
            obj.save(update_fields=["password"])


class TeamFactory(DjangoModelFactory[Team]):
    class Meta:
        model = Team

    name = factory.Sequence(lambda n: f"Team {n}")


class AssetFactory(DjangoModelFactory[Asset]):
    class Meta:
        model = Asset

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"asset-{n:05d}")
    kind = "server"


class TicketFactory(DjangoModelFactory[Ticket]):
    """A ticket row without its "created" event; use desk.services.create_ticket for those."""

    class Meta:
        model = Ticket

    organization = factory.SubFactory(OrganizationFactory)
    number = factory.LazyFunction(next_number)
    subject = factory.Sequence(lambda n: f"Ticket {n}")
