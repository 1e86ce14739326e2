"""The waitlist: a freed slot is offered to the first patient in line and held for them; if they
decline or let the hold expire, it passes to the next one."""

from __future__ import annotations

from datetime import date, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.utils import timezone

from carehub.accounts.choices import Role
from carehub.accounts.tests.factories import make_user
from carehub.core.exceptions import Conflict, ValidationFailed
from carehub.directory.tests.factories import make_practitioner
from carehub.notifications.models import Message
from carehub.patients.tests.factories import make_patient_user
from carehub.scheduling import selectors, services, tasks
from carehub.scheduling.choices import ExceptionKind, OfferStatus, Status, WaitlistStatus
from carehub.scheduling.models import Appointment, WaitlistEntry, WaitlistOffer
from carehub.scheduling.tests.factories import days_ahead, local, make_rule, make_site

pytestmark = pytest.mark.django_db

HOLD = timedelta(minutes=settings.WAITLIST_OFFER_MINUTES)


@pytest.fixture
def day():
    return days_ahead(5)


@pytest.fixture
def site():
    return make_site()


@pytest.fixture
def doctor(site, day):
    """Sees patients on `day` only, 09:00-10:00: two 30-minute slots."""
    doctor = make_practitioner(site=site)
    make_rule(
        doctor,
        site=site,
        weekdays=[day.weekday()],
        start=time(9),
        end=time(10),
        valid_from=day,
        valid_until=day,
    )
    return doctor


@pytest.fixture
def full_day(doctor, site, day):
    """Both slots booked."""
    return [
        services.appointment_book(
            actor=make_patient_user().user,
            practitioner=doctor,
            start=local(site, day, 9, minute),
            mode="in_person",
        )
        for minute in (0, 30)
    ]


def join(patient, doctor, day, **kwargs):
    return services.waitlist_join(
        actor=patient.user, practitioner=doctor, date_from=day, date_to=day, **kwargs
    )


def free_for(patient, doctor, day, site):
    start, end = selectors.day_bounds(day, site.timezone)
    return [
        s.start
        for s in selectors.free_slots(
            practitioner_ids=[doctor.pk], start=start, end=end, for_patient_id=patient.pk
        )[doctor.pk]
    ]


def open_offer(entry) -> WaitlistOffer | None:
    return WaitlistOffer.objects.filter(entry=entry, status=OfferStatus.OPEN).first()


def cancel(appointment):
    row = Appointment.objects.select_related("patient", "practitioner").get(pk=appointment.pk)
    return services.appointment_cancel(
        actor=make_user(Role.RECEPTIONIST), appointment=row, reason="Patient phoned"
    )


# --- offers ---------------------------------------------------------------------------------------
def test_joining_with_a_free_slot_offers_it_at_once_and_holds_it(doctor, site, day):
    first, other = make_patient_user(), make_patient_user()
    entry = join(first, doctor, day)
    entry.refresh_from_db()
    assert entry.status == WaitlistStatus.OFFERED
    offer = open_offer(entry)
    assert offer is not None
    assert offer.start == local(site, day, 9, 0)
    assert abs(offer.expires_at - (timezone.now() + HOLD)) < timedelta(seconds=5)
    message = Message.objects.get(recipient=first.user, kind="waitlist.offer")
    assert f"held for you for {settings.WAITLIST_OFFER_MINUTES} minutes" in message.title
    # Held: the holder still sees it, nobody else does, and nobody else can book it.
    assert offer.start in free_for(first, doctor, day, site)
    assert offer.start not in free_for(other, doctor, day, site)
    with pytest.raises(services.SlotUnavailable) as caught:
        services.appointment_book(
            actor=other.user, practitioner=doctor, start=offer.start, mode="in_person"
        )
    assert caught.value.extra["code"] == "taken"


def test_accepting_the_offer_books_the_slot_and_closes_the_entry(doctor, site, day):
    patient = make_patient_user()
    entry = join(patient, doctor, day)
    offer = open_offer(entry)
    appointment = services.offer_accept(actor=patient.user, offer=offer, reason="Follow-up")
    assert appointment.start == offer.start and appointment.patient == patient
    offer.refresh_from_db()
    entry.refresh_from_db()
    assert offer.status == OfferStatus.ACCEPTED and offer.appointment == appointment
    assert entry.status == WaitlistStatus.BOOKED
    with pytest.raises(Conflict):
        services.offer_accept(actor=patient.user, offer=offer)


def test_a_full_day_puts_patients_in_line_until_a_cancellation(doctor, site, day, full_day):
    first, second = make_patient_user(), make_patient_user()
    entry1, entry2 = join(first, doctor, day), join(second, doctor, day)
    assert not WaitlistOffer.objects.exists()
    assert {e.status for e in WaitlistEntry.objects.all()} == {WaitlistStatus.WAITING}

    cancel(full_day[1])  # 09:30 is free again: offered to the first in line only
    offer = open_offer(entry1)
    assert offer is not None and offer.start == local(site, day, 9, 30)
    assert open_offer(entry2) is None
    entry2.refresh_from_db()
    assert entry2.status == WaitlistStatus.WAITING


def test_declined_offer_passes_to_the_next_in_line(doctor, site, day, full_day):
    first, second = make_patient_user(), make_patient_user()
    entry1, entry2 = join(first, doctor, day), join(second, doctor, day)
    cancel(full_day[0])
    offer1 = open_offer(entry1)
    services.offer_decline(actor=first.user, offer=offer1)

    offer1.refresh_from_db()
    entry1.refresh_from_db()
    assert offer1.status == OfferStatus.DECLINED
    assert entry1.status == WaitlistStatus.WAITING  # keeps their place for later slots
    offer2 = open_offer(entry2)
    assert offer2 is not None and offer2.start == offer1.start
    assert open_offer(entry1) is None  # not offered the slot they declined again
    assert Message.objects.filter(recipient=second.user, kind="waitlist.offer").exists()


def test_expired_hold_passes_to_the_next_in_line(doctor, site, day, full_day, time_machine):
    first, second = make_patient_user(), make_patient_user()
    entry1, entry2 = join(first, doctor, day), join(second, doctor, day)
    cancel(full_day[0])
    offer1 = open_offer(entry1)

    time_machine.move_to(offer1.expires_at + timedelta(seconds=1))
    # Once the hold has run out, before the job runs, the slot is no longer held for anyone...
    assert offer1.start in free_for(second, doctor, day, site)
    # ...and the late answer is refused.
    with pytest.raises(Conflict) as caught:
        services.offer_accept(actor=first.user, offer=offer1)
    assert caught.value.extra["code"] == "offer_closed"

    assert services.offers_expire() == 1
    offer1.refresh_from_db()
    entry1.refresh_from_db()
    assert offer1.status == OfferStatus.EXPIRED
    assert entry1.status == WaitlistStatus.WAITING
    offer2 = open_offer(entry2)
    assert offer2 is not None and offer2.start == offer1.start
    assert offer2.expires_at > timezone.now()
    # The second patient takes it.
    appointment = services.offer_accept(actor=second.user, offer=offer2)
    assert appointment.start == offer1.start
    assert services.offers_expire() == 0


def test_expiry_job_is_the_periodic_task(doctor, site, day, full_day, time_machine):
    first, second = make_patient_user(), make_patient_user()
    entry1, entry2 = join(first, doctor, day), join(second, doctor, day)
    cancel(full_day[1])
    time_machine.move_to(open_offer(entry1).expires_at + timedelta(minutes=1))
    tasks.waitlist_offers_expire.enqueue()  # the immediate backend runs it now
    assert open_offer(entry1) is None
    assert open_offer(entry2) is not None


def test_hold_runs_out_for_everyone_in_turn_then_the_slot_is_free(
    doctor, site, day, full_day, time_machine
):
    patients = [make_patient_user() for _ in range(3)]
    entries = [join(p, doctor, day) for p in patients]
    cancel(full_day[0])
    slot = local(site, day, 9, 0)
    for entry in entries:
        offer = open_offer(entry)
        assert offer is not None and offer.start == slot
        assert [e for e in entries if open_offer(e)] == [entry]  # one holder at a time
        time_machine.move_to(offer.expires_at + timedelta(seconds=1))
        services.offers_expire()
    assert not WaitlistOffer.objects.filter(status=OfferStatus.OPEN).exists()
    # Nobody is left to offer it to: anyone may book it.
    late = make_patient_user()
    assert slot in free_for(late, doctor, day, site)
    services.appointment_book(actor=late.user, practitioner=doctor, start=slot, mode="video")


# --- who is offered what --------------------------------------------------------------------------
def test_first_come_first_offered(doctor, site, day, full_day):
    patients = [make_patient_user() for _ in range(4)]
    entries = [join(p, doctor, day) for p in patients]
    cancel(full_day[0])
    cancel(full_day[1])
    offered = [e for e in entries if open_offer(e)]
    assert offered == entries[:2]
    assert [open_offer(e).start for e in offered] == [
        local(site, day, 9, 0),
        local(site, day, 9, 30),
    ]


def test_offers_respect_the_entry_dates_and_site(site, day):
    doctor = make_practitioner(site=site)
    other_site = make_site("America/New_York")
    doctor.sites.add(other_site)
    make_rule(doctor, site=other_site, weekdays=[day.weekday()], start=time(9), end=time(10))
    patient = make_patient_user()
    # Free slots exist on `day`, but at another site than the one asked for.
    entry = join(patient, doctor, day, site=site)
    assert open_offer(entry) is None
    # And none before `day` at the right site: the entry waits.
    later = day + timedelta(days=7)
    entry2 = services.waitlist_join(
        actor=make_patient_user().user,
        practitioner=doctor,
        date_from=later,
        date_to=later,
        site=other_site,
    )
    offer = open_offer(entry2)
    assert offer is not None
    assert offer.start.astimezone(ZoneInfo(other_site.timezone)).date() == later


def test_specialty_waitlist_takes_any_doctor_of_the_specialty(site, day):
    busy = make_practitioner(site=site, specialty_code="dermatology")
    free = make_practitioner(site=site, specialty_code="dermatology")
    make_rule(free, site=site, weekdays=[day.weekday()], start=time(14), end=time(15))
    patient = make_patient_user()
    entry = services.waitlist_join(
        actor=patient.user,
        specialty=free.specialties.get(),
        date_from=day,
        date_to=day,
    )
    offer = open_offer(entry)
    assert offer is not None and offer.practitioner_id == free.pk
    assert busy.pk != free.pk


def test_patient_is_not_offered_a_slot_when_already_booked_then(doctor, site, day):
    other_doctor = make_practitioner(site=site)
    make_rule(other_doctor, site=site, weekdays=[day.weekday()], start=time(9), end=time(9, 30))
    patient = make_patient_user()
    services.appointment_book(
        actor=patient.user,
        practitioner=other_doctor,
        start=local(site, day, 9, 0),
        mode="in_person",
    )
    entry = join(patient, doctor, day)
    offer = open_offer(entry)
    assert offer is not None and offer.start == local(site, day, 9, 30)  # not 09:00


def test_leave_over_a_held_slot_withdraws_the_offer(doctor, site, day):
    patient = make_patient_user()
    entry = join(patient, doctor, day)
    offer = open_offer(entry)
    services.exception_add(
        actor=make_user(Role.CLINIC_ADMIN),
        practitioner=doctor,
        kind=ExceptionKind.LEAVE,
        start=local(site, day, 0, 0),
        end=local(site, day, 23, 0),
    )
    offer.refresh_from_db()
    entry.refresh_from_db()
    assert offer.status == OfferStatus.WITHDRAWN
    assert entry.status == WaitlistStatus.WAITING


def test_leaving_the_waitlist_hands_the_held_slot_on(doctor, site, day, full_day):
    first, second = make_patient_user(), make_patient_user()
    entry1, entry2 = join(first, doctor, day), join(second, doctor, day)
    cancel(full_day[0])
    offer1 = open_offer(entry1)
    services.waitlist_leave(actor=first.user, entry=entry1)
    offer1.refresh_from_db()
    entry1.refresh_from_db()
    assert offer1.status == OfferStatus.WITHDRAWN
    assert entry1.status == WaitlistStatus.LEFT
    assert open_offer(entry2).start == offer1.start
    with pytest.raises(Conflict):
        services.waitlist_leave(actor=first.user, entry=entry1)


def test_rescheduling_away_frees_the_slot_for_the_waitlist(doctor, site, day, full_day):
    first = make_patient_user()
    entry = join(first, doctor, day)
    moved = Appointment.objects.select_related("patient", "practitioner").get(pk=full_day[0].pk)
    extra_day = day + timedelta(days=1)
    make_rule(doctor, site=site, weekdays=[extra_day.weekday()], start=time(9), end=time(10))
    services.appointment_reschedule(
        actor=make_user(Role.RECEPTIONIST), appointment=moved, start=local(site, extra_day, 9, 0)
    )
    assert open_offer(entry).start == local(site, day, 9, 0)


def test_booking_the_held_slot_directly_accepts_the_offer(doctor, site, day):
    patient = make_patient_user()
    entry = join(patient, doctor, day)
    offer = open_offer(entry)
    appointment = services.appointment_book(
        actor=patient.user, practitioner=doctor, start=offer.start, mode=offer.mode
    )
    offer.refresh_from_db()
    entry.refresh_from_db()
    assert offer.status == OfferStatus.ACCEPTED and offer.appointment == appointment
    assert entry.status == WaitlistStatus.BOOKED
    assert appointment.status == Status.BOOKED


def test_entries_end_when_their_dates_have_passed(doctor, site, day, full_day, time_machine):
    patient = make_patient_user()
    entry = join(patient, doctor, day)
    time_machine.move_to(timezone.now() + timedelta(days=8))
    services.offers_expire()
    entry.refresh_from_db()
    assert entry.status == WaitlistStatus.ENDED


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"date_from": days_ahead(-1), "date_to": days_ahead(2)}, "date_from"),
        ({"date_from": days_ahead(3), "date_to": days_ahead(2)}, "date_to"),
        ({"date_from": days_ahead(1), "date_to": days_ahead(200)}, "date_to"),
        ({"date_from": days_ahead(1), "date_to": days_ahead(2), "mode": "fax"}, "mode"),
    ],
)
def test_join_validates(doctor, kwargs, field):
    with pytest.raises(ValidationFailed) as caught:
        services.waitlist_join(actor=make_patient_user().user, practitioner=doctor, **kwargs)
    assert field in caught.value.field_errors


def test_joining_twice_is_a_conflict(doctor, day, full_day):
    patient = make_patient_user()
    join(patient, doctor, day)
    with pytest.raises(Conflict) as caught:
        join(patient, doctor, day)
    assert caught.value.extra["code"] == "duplicate"


# --- answers that cross (a page loaded before the other answer landed) --------------------------
def test_declining_an_offer_already_accepted_is_refused(doctor, site, day):
    patient = make_patient_user()
    entry = join(patient, doctor, day)
    stale = open_offer(entry)  # the decline page was loaded before the accept landed
    services.offer_accept(actor=patient.user, offer=open_offer(entry))
    with pytest.raises(Conflict):
        services.offer_decline(actor=patient.user, offer=stale)
    entry.refresh_from_db()
    assert entry.status == WaitlistStatus.BOOKED
    assert WaitlistOffer.objects.get(pk=stale.pk).status == OfferStatus.ACCEPTED


def test_leaving_twice_is_refused_and_changes_nothing(doctor, site, day, full_day):
    patient = make_patient_user()
    entry = join(patient, doctor, day)
    stale = WaitlistEntry.objects.get(pk=entry.pk)
    services.waitlist_leave(actor=patient.user, entry=entry)
    with pytest.raises(Conflict):
        services.waitlist_leave(actor=patient.user, entry=stale)


def test_a_far_future_waitlist_is_a_field_error(doctor):
    with pytest.raises(ValidationFailed) as caught:
        services.waitlist_join(
            actor=make_patient_user().user,
            practitioner=doctor,
            date_from=date(9999, 12, 30),
            date_to=date(9999, 12, 31),
        )
    assert "date_from" in caught.value.field_errors
    assert not WaitlistEntry.objects.exists()
