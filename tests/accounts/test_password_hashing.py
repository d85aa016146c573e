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


@pytest.mark.parametrize("operation", ["encode", "verify"])
def test_a_process_runs_one_argon2_hash_at_a_time(monkeypatch, operation):
    """Two threads signing in at once hash one after the other: one hash's memory at a time."""
    import threading
    import time

    import argon2

    hasher = PortalArgon2PasswordHasher()
    encoded = hasher.encode("correct horse", hasher.salt())
    running, most = [0], [0]
    guard = threading.Lock()

    def counted(real):
        def run(*args, **kwargs):
            with guard:
                running[0] += 1
                most[0] = max(most[0], running[0])
            time.sleep(0.05)  # long enough for the other thread to arrive
            try:
                return real(*args, **kwargs)
            finally:
                with guard:
                    running[0] -= 1

        return run

    monkeypatch.setattr(argon2.low_level, "hash_secret", counted(argon2.low_level.hash_secret))
    monkeypatch.setattr(argon2.PasswordHasher, "verify", counted(argon2.PasswordHasher.verify))
    results = []
    if operation == "encode":
        work = [lambda: results.append(hasher.encode("correct horse", hasher.salt())) for _ in range(3)]
    else:
        work = [lambda: results.append(hasher.verify("correct horse", encoded)) for _ in range(3)]
    threads = [threading.Thread(target=job) for job in work]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(results) == 3
    assert most[0] == 1
    if operation == "verify":
        assert results == [True, True, True]
