import secrets
import uuid
from datetime import timedelta

import factory
from allauth.account.models import EmailAddress
from allauth.mfa.totp.internal.auth import TOTP
from django.contrib.auth.hashers import make_password
from django.utils import timezone

from accounts.models import (
    DirectoryTenant,
    DirectoryUser,
    Membership,
    MembershipInvitation,
    MembershipRole,
    Organization,
    User,
)
from accounts.roles import ROLE_PERMISSIONS, Role, roles_for_kind
from portal.tokens import token_hash

PASSWORD = "correct-horse-battery-staple"
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
DIRECTORY_PASSWORD = "built-in-directory-passphrase"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    full_name = factory.Faker("name")
    preferred_language = "en"
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def verified(self, create, extracted, **kwargs):
        if create:
            self.save()
            if extracted is not False:
                EmailAddress.objects.create(user=self, email=self.email, verified=True, primary=True)


class StaffFactory(UserFactory):
    """Program staff, with two-factor authentication set up (the portal requires it of staff)."""

    is_staff = True

    @factory.post_generation
    def mfa(self, create, extracted, **kwargs):
        if create and extracted is not False:
            TOTP.activate(self, TOTP_SECRET)


class DirectoryTenantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DirectoryTenant

    tenant_id = factory.LazyFunction(uuid.uuid4)
    name = factory.Sequence(lambda n: f"tenant{n}")
    verified_domains = factory.LazyAttribute(lambda o: [f"{o.name}.example"])
    country = "JP"
    source = DirectoryTenant.Source.BUILTIN


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    kind = Organization.Kind.RESELLER
    legal_name = factory.Sequence(lambda n: f"Organization {n} KK")
    country = "JP"
    directory_tenant = factory.SubFactory(DirectoryTenantFactory)


def least_privileged_roles(kind: str) -> list[str]:
    """What a member holds unless a test asks for more: the one role, of those offered to this kind of
    organization, with the fewest permissions (the first in the catalogue on a tie). Today a Helpdesk
    agent in a partner (view the organization and its customers), a User management admin in a customer.
    Never none: the portal gives every member at least one role."""
    return [min(roles_for_kind(kind), key=lambda role: len(ROLE_PERMISSIONS[role]))]


class MembershipFactory(factory.django.DjangoModelFactory):
    """A member with the least-privileged role unless the test names the roles it needs:
    ``MembershipFactory(organization=org, roles=[Role.GLOBAL_ADMIN])`` for an administrator."""

    class Meta:
        model = Membership
        skip_postgeneration_save = True

    organization = factory.SubFactory(OrganizationFactory)
    user = factory.SubFactory(UserFactory)

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        if create:
            roles = extracted if extracted is not None else least_privileged_roles(self.organization.kind)
            for role in roles:
                MembershipRole.objects.create(membership=self, role=role)


class MembershipInvitationFactory(factory.django.DjangoModelFactory):
    """An invitation whose raw token is available as ``invitation.raw_token``."""

    class Meta:
        model = MembershipInvitation

    organization = factory.SubFactory(OrganizationFactory)
    email = factory.Sequence(lambda n: f"invitee{n}@example.com")
    roles = factory.LazyFunction(lambda: [Role.SALES_AGENT])
    raw_token = factory.LazyFunction(lambda: secrets.token_urlsafe(32))
    token_hash = factory.LazyAttribute(lambda o: token_hash(o.raw_token))
    invited_by = factory.LazyAttribute(
        lambda o: MembershipFactory(organization=o.organization, roles=[Role.GLOBAL_ADMIN]).user
    )
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=7))

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        raw = kwargs.pop("raw_token", None)
        instance = super()._create(model_class, *args, **kwargs)
        instance.raw_token = raw
        return instance


class DirectoryUserFactory(factory.django.DjangoModelFactory):
    """A user of a built-in tenant, named in the tenant's first domain, with ``DIRECTORY_PASSWORD``:
    ``DirectoryUserFactory(is_global_admin=True)`` for its Global Administrator."""

    class Meta:
        model = DirectoryUser

    tenant = factory.SubFactory(DirectoryTenantFactory)
    user_principal_name = factory.LazyAttributeSequence(
        lambda o, n: f"user{n}@{o.tenant.verified_domains[0]}"
    )
    display_name = factory.Sequence(lambda n: f"Directory User {n}")
    password = factory.LazyFunction(lambda: make_password(DIRECTORY_PASSWORD))
    is_global_admin = False
