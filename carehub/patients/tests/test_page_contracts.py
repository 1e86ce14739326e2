"""Every patient page and form endpoint against the shared access contract."""

from __future__ import annotations

import datetime

from carehub.accounts.choices import Role
from carehub.accounts.tests.factories import make_user
from carehub.core.testing.contracts import PageContract
from carehub.directory.tests.factories import SiteFactory, make_practitioner
from carehub.patients import services
from carehub.patients.models import DuplicateCandidate
from carehub.patients.tests.factories import PatientFactory
from carehub.patients.tests.helpers import form_data, grant_by_role

ADMIN = (Role.RECEPTIONIST, Role.CLINIC_ADMIN)
CLINICIANS = (Role.DOCTOR, Role.NURSE)
STAFF = ADMIN + CLINICIANS


class _OwnRecord:
    """For pages about the signed-in patient's own record: the target is learnt from the actor."""

    def make_target(self):
        return {}

    def grant(self, actor, target):
        target["patient"] = actor.patient

    def target_patient_id(self, target):
        return target["patient"].public_id if target.get("patient") else None


class TestMePage(_OwnRecord, PageContract):
    url_name = "patients:me"
    allowed_roles = (Role.PATIENT,)
    expected_access = ("demographics", "consents", "care_team")
    # Three or four access rows (one per category); on PostgreSQL each costs five queries
    # (savepoint, advisory lock, chain head, insert, release) on top of the test sign-in.
    max_queries = 32


class TestMeDetailsPage(_OwnRecord, PageContract):
    url_name = "patients:me_details"
    allowed_roles = (Role.PATIENT,)
    expected_access = ("demographics",)


class TestMeConsentsPage(_OwnRecord, PageContract):
    url_name = "patients:me_consents"
    allowed_roles = (Role.PATIENT,)
    expected_access = ("consents",)


class TestMeDetailsSubmit(_OwnRecord, PageContract):
    url_name = "patients:me_details"
    method = "post"
    allowed_roles = (Role.PATIENT,)
    expected_status = 302
    expected_access = ("demographics",)

    def data(self, target):
        return {"phone": "+44 7700 900999", "preferred_language": "en", "reminder_channel": "sms"}


class TestMeConsentsSubmit(_OwnRecord, PageContract):
    url_name = "patients:me_consents"
    method = "post"
    allowed_roles = (Role.PATIENT,)
    expected_status = 302
    expected_access = ("consents",)

    def data(self, target):
        return {"email": "on", "treatment": "on"}


class TestListPage(PageContract):
    url_name = "patients:list"
    allowed_roles = STAFF
    expected_access = ("demographics",)

    def make_target(self):
        return PatientFactory()

    def grant(self, actor, target):
        grant_by_role(actor, target)

    def data(self, target):
        return {"q": target.mrn}


class TestRegisterPage(PageContract):
    url_name = "patients:register"
    allowed_roles = ADMIN


class TestRegisterSubmit(PageContract):
    url_name = "patients:register"
    method = "post"
    allowed_roles = ADMIN
    expected_status = 302
    expected_events = ("patient.registered",)
    # An audited write: every saved row appends a change record; the count also includes the
    # test client's sign-in.
    max_queries = 44

    def make_target(self):
        return SiteFactory()

    def data(self, target):
        # A different person for each role: the roles run one after the other in one database.
        birth = datetime.date(1985, 1, 1) + datetime.timedelta(days=target.pk)
        return form_data(target, birth_date=birth.isoformat())


class TestDetailPage(PageContract):
    url_name = "patients:detail"
    allowed_roles = STAFF
    relationship_roles = CLINICIANS
    expected_access = ("demographics", "consents", "care_team")
    # Three or four access rows (one per category); on PostgreSQL each costs five queries
    # (savepoint, advisory lock, chain head, insert, release) on top of the test sign-in.
    max_queries = 32

    def make_target(self):
        return PatientFactory()

    def url_kwargs(self, target):
        return {"public_id": target.public_id}

    def grant(self, actor, target):
        grant_by_role(actor, target)


class TestAssignSubmit(PageContract):
    url_name = "patients:assign"
    method = "post"
    allowed_roles = ADMIN
    expected_status = 302
    expected_events = ("care_relationship.started",)

    def make_target(self):
        patient = PatientFactory()
        patient.test_practitioner = make_practitioner()
        return patient

    def url_kwargs(self, target):
        return {"public_id": target.public_id}

    def data(self, target):
        return {"practitioner": str(target.test_practitioner.public_id)}


class TestEditPage(PageContract):
    url_name = "patients:edit"
    allowed_roles = ADMIN
    expected_access = ("demographics",)

    def make_target(self):
        return PatientFactory()

    def url_kwargs(self, target):
        return {"public_id": target.public_id}


class TestEditSubmit(TestEditPage):
    method = "post"
    expected_status = 302

    def data(self, target):
        return form_data(
            target.site,
            given_name=target.given_name,
            family_name="Changed",
            birth_date=target.birth_date.isoformat(),
        )


class TestBreakGlassPage(PageContract):
    url_name = "patients:break_glass"
    allowed_roles = CLINICIANS
    expected_access = ()  # the form shows nothing about the patient

    def make_target(self):
        return PatientFactory()

    def url_kwargs(self, target):
        return {"public_id": target.public_id}


class TestBreakGlassSubmit(TestBreakGlassPage):
    method = "post"
    expected_status = 302
    expected_events = ("patient.break_glass_opened",)

    def data(self, target):
        return {"reason": "Unconscious in the emergency department, allergies unknown."}


class TestMyPatientsPage(PageContract):
    url_name = "patients:my_patients"
    allowed_roles = CLINICIANS
    expected_access = ("demographics",)

    def make_target(self):
        return PatientFactory()

    def grant(self, actor, target):
        grant_by_role(actor, target)


def _candidate():
    site = SiteFactory()
    first = PatientFactory(site=site)
    second = PatientFactory(
        site=site,
        birth_date=first.birth_date,
        given_name=first.given_name,
        family_name=first.family_name,
    )
    return DuplicateCandidate.objects.create(
        patient=second, other=first, score=0.8, reasons=["same birth date", "same name"]
    )


class TestDuplicatesPage(PageContract):
    url_name = "patients:duplicates"
    allowed_roles = (Role.CLINIC_ADMIN,)
    expected_access = ("demographics",)

    def make_target(self):
        return _candidate()

    def target_patient_id(self, target):
        return target.patient.public_id


class TestMergeSubmit(PageContract):
    url_name = "patients:merge"
    method = "post"
    allowed_roles = (Role.CLINIC_ADMIN,)
    expected_status = 302
    expected_events = ("patient.merged",)
    # An audited write: every saved row appends a change record; the count also includes the
    # test client's sign-in.
    max_queries = 44

    def make_target(self):
        return _candidate()

    def target_patient_id(self, target):
        return target.other.public_id

    def data(self, target):
        return {"survivor": str(target.other.public_id), "duplicate": str(target.patient.public_id)}


class TestDismissSubmit(PageContract):
    url_name = "patients:duplicate_dismiss"
    method = "post"
    allowed_roles = (Role.CLINIC_ADMIN,)
    expected_status = 302

    def make_target(self):
        return _candidate()

    def url_kwargs(self, target):
        return {"public_id": target.public_id}


class TestUnmergeSubmit(PageContract):
    url_name = "patients:unmerge"
    method = "post"
    allowed_roles = (Role.CLINIC_ADMIN,)
    expected_status = 302
    expected_events = ("patient.unmerged",)
    # An audited write: every saved row appends a change record; the count also includes the
    # test client's sign-in.
    max_queries = 44

    def make_target(self):
        candidate = _candidate()
        services.patient_merge(
            actor=make_user(Role.CLINIC_ADMIN),
            survivor=candidate.other,
            duplicate=candidate.patient,
        )
        candidate.patient.refresh_from_db()
        return candidate.patient

    def url_kwargs(self, target):
        return {"public_id": target.public_id}
