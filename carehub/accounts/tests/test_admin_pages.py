"""The clinic administrator's pages: the home page and the users page with its actions."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIRequestFactory
from rest_framework_simplejwt.exceptions import AuthenticationFailed

from carehub.accounts import services
from carehub.accounts.api.authentication import EpochJWTAuthentication
from carehub.accounts.choices import Role
from carehub.accounts.models import User
from carehub.accounts.tests.factories import make_user
from carehub.accounts.tokens import _pair_for
from carehub.audit import services as audit
from carehub.audit.choices import Priority
from carehub.audit.models import Event
from carehub.core.testing.contracts import PageContract, client_for, make_actor
from carehub.directory.tests.factories import SiteFactory


# --- contracts ---------------------------------------------------------------------------------
class TestAdminHomePage(PageContract):
    url_name = "accounts:admin_home"
    allowed_roles = (Role.CLINIC_ADMIN,)


class TestUserListPage(PageContract):
    url_name = "accounts:user_list"
    allowed_roles = (Role.CLINIC_ADMIN,)


class _UserAction(PageContract):
    method = "post"
    allowed_roles = (Role.CLINIC_ADMIN,)
    expected_status = 302

    def make_target(self):
        return make_user(Role.RECEPTIONIST)

    def url_kwargs(self, target):
        return {"public_id": target.public_id}


class TestUserDeactivate(_UserAction):
    url_name = "accounts:user_deactivate"
    expected_events = ("user.deactivated",)

    def data(self, target):
        return {"reason": "Left the clinic"}


class TestUserReactivate(_UserAction):
    url_name = "accounts:user_reactivate"
    expected_events = ("user.reactivated",)

    def make_target(self):
        return make_user(Role.RECEPTIONIST, is_active=False)


class TestUserUnlock(_UserAction):
    url_name = "accounts:user_unlock"
    expected_events = ("user.unlocked",)

    def make_target(self):
        return make_user(Role.NURSE, locked_until=timezone.now() + datetime.timedelta(minutes=10))


# --- behaviour ---------------------------------------------------------------------------------
@pytest.fixture
def admin():
    return make_actor(Role.CLINIC_ADMIN)


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.mark.django_db
def test_admin_home_shows_counts_security_events_and_duplicates(admin):
    from carehub.patients import services as patients

    make_user(Role.DOCTOR)
    make_user(Role.DOCTOR)
    make_user(Role.DOCTOR, is_active=False)
    locked = make_user(Role.NURSE, email="locked.nurse@example.org")
    audit.event_record(actor=None, name="user.locked_out", obj=locked, priority=Priority.HIGH)
    services.user_deactivate(
        actor=admin,
        user=make_user(Role.RECEPTIONIST, email="gone@example.org"),
        reason="Contract ended",
    )
    audit.event_record(actor=admin, name="user.logged_in", obj=admin)  # not high priority
    site = SiteFactory()
    for _ in range(2):
        patients.patient_register(
            actor=None,
            site=site,
            given_name="Maria",
            family_name="Lopez",
            birth_date=datetime.date(1980, 5, 17),
            email="maria@example.org",
        )
    from carehub.patients.tests.factories import PatientFactory

    patient = PatientFactory()
    audit.event_record(
        actor=admin,
        name="patient.break_glass_opened",
        patient_id=patient.public_id,
        priority=Priority.HIGH,
    )

    response = client_for(admin).get(reverse("accounts:admin_home"))
    assert response.status_code == 200
    overview = response.context["overview"]
    counts = dict(overview.user_counts)
    assert counts["Doctor"] == 2  # the deactivated one is not counted
    assert counts["Clinic administrator"] == 1
    names = [e.name for e in overview.security_events]
    assert names == ["user.deactivated", "user.locked_out"]
    assert overview.open_duplicates == 1
    page = response.content.decode()
    assert (
        "locked.nurse@example.org" in page
        and "gone@example.org" in page
        and "Contract ended" in page
    )
    assert reverse("patients:duplicates") in page
    assert reverse("directory:onboard") in page and reverse("accounts:user_list") in page
    assert "break_glass" not in page
    assert page.count("<h1") == 1


@pytest.mark.django_db
def test_admin_home_lists_at_most_ten_events(admin):
    target = make_user(Role.PATIENT)
    for _ in range(12):
        audit.event_record(actor=None, name="user.locked_out", obj=target, priority=Priority.HIGH)
    response = client_for(admin).get(reverse("accounts:admin_home"))
    assert len(response.context["overview"].security_events) == 10


@pytest.mark.django_db
def test_users_page_searches_filters_and_shows_mfa_and_lock(admin):
    # Names no Faker-made user can contain, so the search finds exactly these.
    make_user(Role.DOCTOR, first_name="Zephyrine", last_name="Qwv", email="zq@example.org")
    make_user(
        Role.PATIENT, first_name="Zephyrine", last_name="Xk", email="zx@example.org", mfa=False
    )
    make_user(
        Role.NURSE,
        first_name="Lockedqx",
        last_name="Nurse",
        locked_until=timezone.now() + datetime.timedelta(minutes=5),
    )
    client = client_for(admin)
    url = reverse("accounts:user_list")

    found = client.get(url, {"q": "zephyrine"})
    assert {u.email: u.has_mfa for u in found.context["page"].object_list} == {
        "zq@example.org": True,
        "zx@example.org": False,
    }
    by_email = client.get(url, {"q": "ZX@example"})
    assert [u.email for u in by_email.context["page"].object_list] == ["zx@example.org"]
    doctors = client.get(url, {"q": "zephyrine", "role": Role.DOCTOR})
    assert [u.email for u in doctors.context["page"].object_list] == ["zq@example.org"]
    locked = client.get(url, {"q": "lockedqx"}).content.decode()
    assert "Unlock" in locked
    assert "<caption>" in locked and 'scope="col"' in locked


@pytest.mark.django_db
def test_deactivation_ends_sessions_and_revokes_api_tokens(admin):
    doctor = make_actor(Role.DOCTOR)
    doctor_browser = client_for(doctor)
    assert doctor_browser.get(reverse("directory:my_profile")).status_code == 200
    token = _pair_for(doctor).access
    request = APIRequestFactory().get("/api/v1/patients/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert EpochJWTAuthentication().authenticate(request)[0] == doctor

    response = client_for(admin).post(
        reverse("accounts:user_deactivate", kwargs={"public_id": doctor.public_id}),
        {"reason": "Left the clinic", "next": reverse("accounts:user_list") + "?q=x"},
    )
    assert (
        response.status_code == 302
        and response["Location"] == reverse("accounts:user_list") + "?q=x"
    )
    assert any("Signed out everywhere and API tokens revoked" in m for m in _messages(response))
    doctor.refresh_from_db()
    assert not doctor.is_active

    after = doctor_browser.get(reverse("directory:my_profile"))
    assert after.status_code == 302 and reverse("account_login") in after["Location"]
    with pytest.raises(AuthenticationFailed):
        EpochJWTAuthentication().authenticate(request)
    event = Event.objects.get(name="user.deactivated", object_id=str(doctor.public_id))
    assert event.data["reason"] == "Left the clinic" and event.actor_id == admin.public_id


@pytest.mark.django_db
def test_deactivation_needs_a_reason(admin):
    target = make_user(Role.RECEPTIONIST)
    response = client_for(admin).post(
        reverse("accounts:user_deactivate", kwargs={"public_id": target.public_id})
    )
    assert response.status_code == 302
    assert any("reason" in m for m in _messages(response))
    target.refresh_from_db()
    assert target.is_active


@pytest.mark.django_db
def test_administrator_cannot_deactivate_themselves(admin):
    response = client_for(admin).post(
        reverse("accounts:user_deactivate", kwargs={"public_id": admin.public_id}),
        {"reason": "testing"},
    )
    assert response.status_code == 302
    assert "You cannot deactivate your own account." in _messages(response)
    admin.refresh_from_db()
    assert admin.is_active


@pytest.mark.django_db
def test_redirect_after_an_action_stays_on_this_site(admin):
    target = make_user(Role.RECEPTIONIST)
    response = client_for(admin).post(
        reverse("accounts:user_deactivate", kwargs={"public_id": target.public_id}),
        {"reason": "x", "next": "https://evil.example.com/"},
    )
    assert response["Location"] == reverse("accounts:user_list")


@pytest.mark.django_db
def test_unlock_clears_the_lock_and_failed_count(admin):
    target = make_user(
        Role.NURSE, failed_logins=4, locked_until=timezone.now() + datetime.timedelta(minutes=10)
    )
    response = client_for(admin).post(
        reverse("accounts:user_unlock", kwargs={"public_id": target.public_id})
    )
    assert response.status_code == 302
    target.refresh_from_db()
    assert (target.locked_until, target.failed_logins) == (None, 0)
    assert Event.objects.filter(
        name="user.unlocked", object_id=str(target.public_id), actor_id=admin.public_id
    ).exists()


@pytest.mark.django_db
def test_reactivated_user_can_sign_in_again(admin):
    target = make_user(Role.RECEPTIONIST)
    services.user_deactivate(actor=admin, user=target, reason="mistake")
    client_for(admin).post(
        reverse("accounts:user_reactivate", kwargs={"public_id": target.public_id})
    )
    assert User.objects.get(pk=target.pk).is_active


@pytest.mark.django_db
def test_security_events_selector_refuses_other_roles():
    from carehub.accounts import selectors
    from carehub.core.exceptions import Forbidden

    for role in (Role.AUDITOR, Role.RECEPTIONIST, Role.DOCTOR, Role.PATIENT):
        with pytest.raises(Forbidden):
            selectors.account_security_events(actor=make_actor(role))
