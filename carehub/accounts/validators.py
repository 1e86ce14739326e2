from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

STAFF_MIN_LENGTH = 12
PATIENT_MIN_LENGTH = 8


class RoleMinimumLengthValidator:
    """At least 12 characters for staff accounts, 8 for patients (NIST SP 800-63B)."""

    def _minimum(self, user) -> int:
        # Without a user to look at, apply the stricter rule (deny by default).
        if user is None:
            return STAFF_MIN_LENGTH
        return STAFF_MIN_LENGTH if getattr(user, "is_staff_member", False) else PATIENT_MIN_LENGTH

    def validate(self, password: str, user=None) -> None:
        minimum = self._minimum(user)
        if len(password) < minimum:
            raise ValidationError(
                ngettext(
                    "This password is too short. It must contain at least %(min)d character.",
                    "This password is too short. It must contain at least %(min)d characters.",
                    minimum,
                ),
                code="password_too_short",
                params={"min": minimum},
            )

    def get_help_text(self) -> str:
        return _(
            "Your password must contain at least %(patient)d characters "
            "(%(staff)d for staff accounts)."
        ) % {"patient": PATIENT_MIN_LENGTH, "staff": STAFF_MIN_LENGTH}
