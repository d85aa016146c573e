"""Passwords are hashed with Argon2id at OWASP's m=12 MiB, t=3, p=1, and older Argon2 hashes still work
and are upgraded when their owner signs in."""

import pytest
from django.contrib.auth.hashers import Argon2PasswordHasher, check_password, get_hasher, identify_hasher
from django.test import Client
from django.urls import reverse

from accounts.models import User
from portal.hashers import PortalArgon2PasswordHasher
from tests.factories.accounts import UserFactory


def test_production_hashes_with_argon2id_at_12_mib_3_passes_1_lane():
    from portal import settings as production

    assert production.PASSWORD_HASHERS[0] == "portal.hashers.PortalArgon2PasswordHasher"
    encoded = PortalArgon2PasswordHasher().encode("correct horse", PortalArgon2PasswordHasher().salt())

    assert encoded.startswith("argon2$argon2id$v=19$m=12288,t=3,p=1$")
    assert PortalArgon2PasswordHasher().verify("correct horse", encoded)
    assert not PortalArgon2PasswordHasher().verify("wrong horse", encoded)


@pytest.mark.django_db
def test_a_hash_with_djangos_default_parameters_signs_in_and_is_upgraded(settings):
    settings.PASSWORD_HASHERS = [
        "portal.hashers.PortalArgon2PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]
    user = UserFactory()
    old = Argon2PasswordHasher()
    User.objects.filter(pk=user.pk).update(password=old.encode("an older passphrase", old.salt()))
    assert "m=102400,t=2,p=8" in User.objects.get(pk=user.pk).password
    assert get_hasher().must_update(User.objects.get(pk=user.pk).password)

    response = Client().post(
        reverse("account_login"), {"login": user.email, "password": "an older passphrase"}
    )

    assert response.status_code == 302
    upgraded = User.objects.get(pk=user.pk).password
    assert "m=12288,t=3,p=1" in upgraded
    assert identify_hasher(upgraded).algorithm == "argon2"
    assert check_password("an older passphrase", upgraded)
