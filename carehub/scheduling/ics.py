"""iCalendar (RFC 5545) files: one appointment for the patient's own calendar, and a
practitioner's private feed. Built with the `icalendar` library.

A feed leaves the clinic (phones, Google or Outlook calendars), so it carries no patient data:
each event says "Appointment" with its mode, site and status, and links to the page in CareHub
where signed-in staff see who it is."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from icalendar import Calendar, Event

PRODID = "-//CareHub//Scheduling//EN"


def _calendar(name: str) -> Calendar:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", name)
    return cal


def _event(appointment, summary: str, url: str, description: str = "") -> Event:
    event = Event()
    event.add("uid", f"{appointment.public_id}@carehub")
    event.add("dtstamp", datetime.now(UTC))
    event.add("dtstart", appointment.start.astimezone(UTC))
    event.add("dtend", appointment.end.astimezone(UTC))
    event.add("summary", summary)
    event.add(
        "location", appointment.site.name if appointment.mode == "in_person" else "Video visit"
    )
    event.add("status", "CANCELLED" if appointment.status == "cancelled" else "CONFIRMED")
    event.add("sequence", appointment.reschedule_count)
    if url:
        event.add("url", url)
    if description:
        event.add("description", description)
    return event


def appointment_ics(appointment, *, practitioner_name: str, url: str) -> bytes:
    """The patient's own appointment, to add to their calendar."""
    cal = _calendar("CareHub appointment")
    mode = "video visit" if appointment.mode == "video" else "appointment"
    cal.add_component(
        _event(
            appointment,
            f"{practitioner_name}: {mode}",
            url,
            "To cancel or reschedule, open the link or call the clinic.",
        )
    )
    return cal.to_ical()


def feed_ics(appointments: Iterable, *, name: str, url_for) -> bytes:
    """A practitioner's feed: times, mode, site and status only."""
    cal = _calendar(name)
    for appointment in appointments:
        label = "Video appointment" if appointment.mode == "video" else "Appointment"
        cal.add_component(_event(appointment, label, url_for(appointment)))
    return cal.to_ical()
