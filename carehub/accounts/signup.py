"""allauth's sign-up form made atomic (a separate module: allauth imports
carehub.accounts.forms.PatientSignupForm while building its own forms module)."""

from allauth.account.forms import SignupForm as AllauthSignupForm
from django.db import transaction


class SignupForm(AllauthSignupForm):
    """The account and the patient record are created together or not at all."""

    @transaction.atomic
    def save(self, request):
        return super().save(request)
