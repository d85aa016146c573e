import factory
from django.contrib.auth.hashers import make_password

from enrollment.models import MembershipAccount, PartnerProfile

MEMBERSHIP_PASSWORD = "membership-center-passphrase"


class MembershipAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MembershipAccount

    username = factory.Sequence(lambda n: f"member{n}")
    password = factory.LazyFunction(lambda: make_password(MEMBERSHIP_PASSWORD))


class PartnerProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PartnerProfile

    account = factory.SubFactory(MembershipAccountFactory)
    partner_id = factory.Sequence(lambda n: f"{9000000 + n:07d}")
    legal_name = factory.Sequence(lambda n: f"Partner {n} KK")
    country = "JP"
    location = "Tokyo"
    already_authorised = False
