import pytest

from carehub.directory.tests.factories import make_practitioner
from carehub.patients.tests.factories import make_patient_user, relate


@pytest.fixture
def doctor():
    return make_practitioner()


@pytest.fixture
def patient(doctor):
    """A patient who can sign in, in `doctor`'s care."""
    patient = make_patient_user()
    relate(doctor, patient)
    return patient
