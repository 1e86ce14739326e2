from __future__ import annotations

import factory

from carehub.accounts.tests.factories import UserFactory
from carehub.notifications.models import Message


class MessageFactory(factory.django.DjangoModelFactory[Message]):
    """An unread message; titles follow the rule for staff messages (no patient names)."""

    class Meta:
        model = Message

    recipient = factory.SubFactory(UserFactory)
    kind = "appointment.booked"
    title = factory.Sequence(lambda n: f"Appointment booked for Tue 3 Dec, {n % 24:02d}:00")
    body = ""
    url = ""
