"""Directory pages: who may open them and what they do. The directory is not patient data, so no
page here writes access-log rows."""

from __future__ import annotations

import io

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from carehub.accounts.choices import Role
from carehub.audit.models import Event
from carehub.core.testing.contracts import ALL_ROLES, PageContract, client_for, make_actor
from carehub.directory.models import Practitioner, Site
from carehub.directory.tests.factories import SiteFactory, make_practitioner


def png_bytes(size=(8, 8)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (11, 110, 79)).save(buffer, format="PNG")
    return buffer.getvalue()


# --- contracts ---------------------------------------------------------------------------------
class TestPractitionerListPage(PageContract):
    url_name = "directory:practitioner_list"
    allowed_roles = ALL_ROLES
    expected_access = ()


class TestPractitionerDetailPage(PageContract):
    url_name = "directory:practitioner_detail"
    allowed_roles = ALL_ROLES
    expected_access = ()

    def make_target(self):
        return make_practitioner()

    def url_kwargs(self, target):
        return {"public_id": target.public_id}


class TestPractitionerPhoto(PageContract):
    url_name = "directory:practitioner_photo"
    allowed_roles = ALL_ROLES
    expected_access = ()

    def make_target(self):
        practitioner = make_practitioner()
        practitioner.photo.save("p.png", ContentFile(png_bytes()))
        return practitioner

    def url_kwargs(self, target):
        return {"public_id": target.public_id}


class TestOnboardPage(PageContract):
    url_name = "directory:onboard"
    allowed_roles = (Role.CLINIC_ADMIN,)
    expected_access = ()


class TestPractitionerEditPage(PageContract):
    url_name = "directory:practitioner_edit"
    allowed_roles = (Role.CLINIC_ADMIN,)
    expected_access = ()

    def make_target(self):
        return make_practitioner()

    def url_kwargs(self, target):
        return {"public_id": target.public_id}


class TestMyProfilePage(PageContract):
    url_name = "directory:my_profile"
    allowed_roles = (Role.DOCTOR, Role.NURSE)
    expected_access = ()


class TestSiteListPage(PageContract):
    url_name = "directory:site_list"
    allowed_roles = (Role.CLINIC_ADMIN,)
    expected_access = ()


class TestSiteCreatePage(PageContract):
    url_name = "directory:site_create"
    allowed_roles = (Role.CLINIC_ADMIN,)
    expected_access = ()


class TestSiteCreateSubmit(PageContract):
    url_name = "directory:site_create"
    method = "post"
    allowed_roles = (Role.CLINIC_ADMIN,)
    expected_status = 302
    expected_events = ("site.created",)

    def data(self, target):
        return {
            "code": f"t{Site.objects.count()}",
            "name": "Lakeside Clinic",
            "timezone": "Europe/Paris",
            "emergency_phone": "112",
        }


class TestSiteEditPage(PageContract):
    url_name = "directory:site_edit"
    allowed_roles = (Role.CLINIC_ADMIN,)
    expected_access = ()

    def make_target(self):
        return SiteFactory()

    def url_kwargs(self, target):
        return {"public_id": target.public_id}


# --- behaviour ---------------------------------------------------------------------------------
@pytest.fixture
def admin():
    return make_actor(Role.CLINIC_ADMIN)


@pytest.mark.django_db
def test_every_specialty_of_the_data_file_is_loaded_by_the_migration():
    import json

    from django.conf import settings

    from carehub.directory.models import Specialty

    data = json.loads((settings.BASE_DIR / "carehub/directory/data/specialties.json").read_text())
    loaded = dict(Specialty.objects.values_list("code", "label"))
    assert {item["code"]: item["label"] for item in data}.items() <= loaded.items()


@pytest.mark.django_db
def test_list_filters_by_specialty_and_site_and_shows_languages():
    riverside, harbor = SiteFactory(name="Riverside"), SiteFactory(name="Harbor")
    heart = make_practitioner(site=riverside, specialty_code="cardiology", last_name="Heartwell")
    heart.languages = ["en", "fr"]
    heart.save()
    skin = make_practitioner(site=harbor, specialty_code="dermatology", last_name="Skinner")
    client = client_for(make_actor(Role.PATIENT))
    url = reverse("directory:practitioner_list")

    page = client.get(url).content.decode()
    assert "Heartwell" in page and "Skinner" in page
    assert "English, French" in page

    by_specialty = client.get(url, {"specialty": "cardiology"}).content.decode()
    assert "Heartwell" in by_specialty and "Skinner" not in by_specialty

    by_site = client.get(url, {"site": str(harbor.public_id)}).content.decode()
    assert "Skinner" in by_site and "Heartwell" not in by_site
    assert str(skin.public_id) in by_site


@pytest.mark.django_db
def test_patients_do_not_see_deactivated_clinicians():
    gone = make_practitioner(last_name="Departed")
    gone.user.is_active = False
    gone.user.save()
    patient_client = client_for(make_actor(Role.PATIENT))
    assert (
        "Departed"
        not in patient_client.get(reverse("directory:practitioner_list")).content.decode()
    )
    detail = reverse("directory:practitioner_detail", kwargs={"public_id": gone.public_id})
    assert patient_client.get(detail).status_code == 404


@pytest.mark.django_db
def test_bad_time_zone_is_a_form_error_and_no_site_is_created(admin):
    before = Site.objects.count()
    response = client_for(admin).post(
        reverse("directory:site_create"),
        {
            "code": "mars",
            "name": "Olympus Clinic",
            "timezone": "Mars/Olympus_Mons",
            "emergency_phone": "999",
        },
    )
    assert response.status_code == 200
    assert "timezone" in response.context["form"].errors
    assert 'aria-invalid="true"' in response.content.decode()
    assert Site.objects.count() == before


@pytest.mark.django_db
def test_bad_emergency_number_is_a_form_error(admin):
    response = client_for(admin).post(
        reverse("directory:site_create"),
        {
            "code": "lak",
            "name": "Lakeside",
            "timezone": "Europe/Paris",
            "emergency_phone": "call us",
        },
    )
    assert "emergency_phone" in response.context["form"].errors
    assert not Site.objects.filter(code="lak").exists()


@pytest.mark.django_db
def test_site_edit_changes_time_zone_but_never_the_code(admin):
    site = SiteFactory(code="riv", timezone="Europe/London")
    url = reverse("directory:site_edit", kwargs={"public_id": site.public_id})
    response = client_for(admin).post(
        url,
        {
            "code": "new",
            "name": "Riverside Clinic",
            "timezone": "Europe/Dublin",
            "emergency_phone": "112",
        },
    )
    assert response.status_code == 302
    site.refresh_from_db()
    assert (site.code, site.timezone, site.emergency_phone) == ("riv", "Europe/Dublin", "112")
    assert Event.objects.filter(name="site.updated", object_id=str(site.public_id)).exists()


@pytest.mark.django_db
def test_clinician_edits_own_bio_languages_and_photo():
    practitioner = make_practitioner(role=Role.NURSE)
    client = client_for(practitioner.user)
    photo = SimpleUploadedFile("me.png", png_bytes(), content_type="image/png")
    response = client.post(
        reverse("directory:my_profile"),
        {
            "bio": "Practice nurse for 10 years.",
            "languages": "en, es",
            "photo": photo,
        },
    )
    assert response.status_code == 302
    practitioner.refresh_from_db()
    assert practitioner.bio == "Practice nurse for 10 years."
    assert practitioner.languages == ["en", "es"]
    assert practitioner.photo.name.endswith(".png") and "me.png" not in practitioner.photo.name
    photo_url = reverse(
        "directory:practitioner_photo", kwargs={"public_id": practitioner.public_id}
    )
    served = client_for(make_actor(Role.PATIENT)).get(photo_url)
    assert served.status_code == 200 and served["Content-Type"] == "image/png"
    assert client_for(None).get(photo_url).status_code == 302  # signed-in users only

    removed = client.post(
        reverse("directory:my_profile"), {"bio": "x", "languages": "en", "remove_photo": "on"}
    )
    assert removed.status_code == 302
    practitioner.refresh_from_db()
    assert not practitioner.photo


@pytest.mark.django_db
def test_a_file_that_is_not_an_image_is_refused():
    practitioner = make_practitioner()
    fake = SimpleUploadedFile("me.png", b"<svg onload=alert(1)>", content_type="image/png")
    response = client_for(practitioner.user).post(
        reverse("directory:my_profile"), {"bio": "", "languages": "", "photo": fake}
    )
    assert response.status_code == 200
    assert "photo" in response.context["form"].errors
    practitioner.refresh_from_db()
    assert not practitioner.photo


@pytest.mark.django_db
def test_a_photo_over_2_mb_is_refused():
    practitioner = make_practitioner()
    big = SimpleUploadedFile(
        "big.png", png_bytes() + b"\0" * (2 * 1024 * 1024), content_type="image/png"
    )
    response = client_for(practitioner.user).post(
        reverse("directory:my_profile"), {"bio": "", "languages": "", "photo": big}
    )
    assert response.context["form"].errors["photo"] == ["The photo must be 2 MB or smaller."]


@pytest.mark.django_db
def test_clinician_cannot_change_specialties_through_own_profile():
    from carehub.core.exceptions import Forbidden
    from carehub.directory import services

    practitioner = make_practitioner()
    with pytest.raises(Forbidden):
        services.practitioner_update(
            actor=practitioner.user, practitioner=practitioner, sites=[SiteFactory()]
        )
    other = make_practitioner()
    with pytest.raises(Forbidden):
        services.practitioner_update(actor=practitioner.user, practitioner=other, bio="not mine")


@pytest.mark.django_db
def test_admin_edits_name_specialties_and_sites(admin):
    practitioner = make_practitioner(first_name="Ann", last_name="Lee")
    new_site = SiteFactory()
    url = reverse("directory:practitioner_edit", kwargs={"public_id": practitioner.public_id})
    response = client_for(admin).post(
        url,
        {
            "first_name": "Anne",
            "last_name": "Lee",
            "title": "Dr",
            "specialties": ["cardiology", "oncology"],
            "sites": [str(new_site.public_id)],
            "languages": "en",
            "bio": "",
            "registration_number": "GMC 1234567",
        },
    )
    assert response.status_code == 302, response.context["form"].errors
    practitioner = Practitioner.objects.get(pk=practitioner.pk)
    assert practitioner.user.first_name == "Anne"
    assert sorted(practitioner.specialties.values_list("code", flat=True)) == [
        "cardiology",
        "oncology",
    ]
    assert list(practitioner.sites.all()) == [new_site]
    event = Event.objects.get(name="practitioner.updated")
    assert {"name", "specialties", "sites", "registration_number"} <= set(event.data["fields"])


@pytest.mark.django_db
def test_a_doctor_needs_a_specialty(admin):
    practitioner = make_practitioner()
    url = reverse("directory:practitioner_edit", kwargs={"public_id": practitioner.public_id})
    response = client_for(admin).post(
        url,
        {
            "first_name": "A",
            "last_name": "B",
            "sites": [str(practitioner.sites.get().public_id)],
            "languages": "en",
        },
    )
    assert response.status_code == 200
    assert "specialties" in response.context["form"].errors


@pytest.mark.django_db
def test_site_edit_changes_the_booking_rules(admin):
    site = SiteFactory(code="bok")
    url = reverse("directory:site_edit", kwargs={"public_id": site.public_id})
    client = client_for(admin)
    page = client.get(url).content.decode()
    assert 'name="booking_min_notice_minutes" value="60"' in page
    response = client.post(
        url,
        {
            "name": site.name,
            "timezone": site.timezone,
            "emergency_phone": "999",
            "booking_min_notice_minutes": "240",
            "cancellation_cutoff_minutes": "1440",
            "booking_horizon_days": "30",
        },
    )
    assert response.status_code == 302
    site.refresh_from_db()
    assert (
        site.booking_min_notice_minutes,
        site.cancellation_cutoff_minutes,
        site.booking_horizon_days,
    ) == (240, 1440, 30)
    event = Event.objects.filter(name="site.updated", object_id=str(site.public_id)).last()
    assert "booking_horizon_days" in event.data["fields"]
    refused = client.post(
        url,
        {
            "name": site.name,
            "timezone": site.timezone,
            "emergency_phone": "999",
            "booking_horizon_days": "0",
        },
    )
    assert "booking_horizon_days" in refused.context["form"].errors
    # The new-site form keeps the defaults.
    assert (
        "booking_horizon_days" not in client.get(reverse("directory:site_create")).content.decode()
    )
