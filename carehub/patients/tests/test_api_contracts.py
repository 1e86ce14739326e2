"""Every patient API endpoint against the shared access contract."""

from __future__ import annotations

from carehub.accounts.choices import Role
from carehub.core.testing.contracts import ApiContract
from carehub.directory.tests.factories import SiteFactory
from carehub.patients.tests.factories import PatientFactory
from carehub.patients.tests.helpers import grant_by_role

ADMIN = (Role.RECEPTIONIST, Role.CLINIC_ADMIN)
CLINICIANS = (Role.DOCTOR, Role.NURSE)
STAFF = ADMIN + CLINICIANS


class _PatientTarget:
    def make_target(self):
        return PatientFactory()

    def url_kwargs(self, target):
        return {"public_id": target.public_id}

    def grant(self, actor, target):
        grant_by_role(actor, target)


class TestApiList(ApiContract):
    url_name = "api-patients-list"
    allowed_roles = STAFF
    expected_access = ("demographics",)

    def make_target(self):
        return PatientFactory()

    def grant(self, actor, target):
        grant_by_role(actor, target)

    def data(self, target):
        return {"q": target.mrn}


class TestApiCreate(ApiContract):
    url_name = "api-patients-list"
    method = "post"
    allowed_roles = ADMIN
    expected_status = 201
    expected_events = ("patient.registered",)
    # A registration takes the site's MRN counter, writes the record, its change row, the
    # duplicate scan and the registration event: each audit append is lock + read + insert.
    max_queries = 32

    def make_target(self):
        return SiteFactory()

    def data(self, target):
        return {
            "given_name": "Grace",
            "family_name": "Hopper",
            "birth_date": "1976-12-09",
            "site": str(target.public_id),
        }


class TestApiDetail(_PatientTarget, ApiContract):
    url_name = "api-patients-detail"
    allowed_roles = (Role.PATIENT, *STAFF)
    relationship_roles = (Role.PATIENT, *CLINICIANS)
    expected_access = ("demographics",)


class TestApiPatch(_PatientTarget, ApiContract):
    url_name = "api-patients-detail"
    method = "patch"
    allowed_roles = (Role.PATIENT, *ADMIN)
    relationship_roles = (Role.PATIENT,)
    expected_access = ("demographics",)

    def data(self, target):
        return {"phone": "+44 7700 900321"}


class TestApiMe(ApiContract):
    url_name = "api-patients-me"
    allowed_roles = (Role.PATIENT,)
    expected_access = ("demographics",)

    def make_target(self):
        return {}

    def grant(self, actor, target):
        target["patient"] = actor.patient

    def target_patient_id(self, target):
        return target["patient"].public_id if target.get("patient") else None
