"""Demo people. Passwords are for a local demo only; the command refuses to run in production."""

from accounts.models import User

DEMO_PASSWORD = "demo-portal-2026"  # noqa: S105 - printed for the local demo on purpose


def _user(email: str, *, full_name: str, language: str = "en", staff: bool = False) -> User:
    user, created = User.objects.get_or_create(
        email=email,
        defaults={"full_name": full_name, "preferred_language": language, "is_staff": staff},
    )
    if created:
        user.set_password(DEMO_PASSWORD)
        user.save(update_fields=["password"])
    from allauth.account.models import EmailAddress

    EmailAddress.objects.update_or_create(
        user=user, email=email, defaults={"verified": True, "primary": True}
    )
    return user


def load() -> list[tuple[str, str, str]]:
    reviewer = _user("reviewer@demo.example", full_name="Riko Reviewer", language="ja", staff=True)
    if not reviewer.is_superuser:
        reviewer.is_superuser = True
        reviewer.save(update_fields=["is_superuser"])
    return [(reviewer.email, DEMO_PASSWORD, "program reviewer (review site /review/)")]
