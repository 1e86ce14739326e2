from __future__ import annotations

import factory
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

from carehub.accounts.choices import Role
from carehub.accounts.models import User

TEST_PASSWORD = "correct-horse-battery-staple-42"


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.org")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    role = Role.PATIENT
    password = factory.PostGenerationMethodCall("set_password", TEST_PASSWORD)

    @factory.post_generation
    def verified(self, create, extracted, **kwargs):
        if create:
            self.save()
            EmailAddress.objects.get_or_create(
                user=self, email=self.email, defaults={"verified": True, "primary": True}
            )


def give_totp(user: User) -> str:
    """Activate TOTP for `user`; returns the base32 secret (for computing codes in tests)."""
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    return secret


def totp_code(secret: str) -> str:
    import time

    from allauth.mfa import app_settings
    from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value

    return format_hotp_value(hotp_value(secret, int(time.time()) // app_settings.TOTP_PERIOD))


def make_user(role: str = Role.PATIENT, *, mfa: bool | None = None, **kwargs) -> User:
    """A user of `role`; staff get TOTP by default, as they must have it to do anything."""
    user = UserFactory.create(role=role, **kwargs)
    if mfa if mfa is not None else role != Role.PATIENT:
        user.totp_secret = give_totp(user)  # type: ignore[attr-defined]
    return user


__all__ = ["TEST_PASSWORD", "Authenticator", "UserFactory", "give_totp", "make_user", "totp_code"]
