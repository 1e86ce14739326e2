from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.urls import reverse
from django.utils import timezone

from carehub.accounts.choices import Role
from carehub.accounts.tests.factories import make_user
from carehub.core.exceptions import NotFound, ServiceError
from carehub.core.testing.contracts import client_for
from carehub.notifications import selectors, services
from carehub.notifications.models import Message
from carehub.notifications.tests.factories import MessageFactory

pytestmark = pytest.mark.django_db


def test_notify_puts_an_unread_message_in_the_recipients_inbox():
    user = make_user(Role.DOCTOR)

    message = services.notify(
        recipient=user,
        kind="appointment.booked",
        title="Appointment booked for Tue 3 Dec, 10:00",
        body="See the appointment for details.",
        url="/appointments/0b7c/",
    )

    stored = Message.objects.get(pk=message.pk)
    assert stored.recipient == user
    assert stored.kind == "appointment.booked"
    assert stored.title == "Appointment booked for Tue 3 Dec, 10:00"
    assert stored.url == "/appointments/0b7c/"
    assert stored.read_at is None
    assert stored.public_id and stored.created_at


def test_notify_is_undone_with_the_callers_transaction():
    user = make_user()

    with pytest.raises(RuntimeError), transaction.atomic():
        services.notify(recipient=user, kind="appointment.cancelled", title="Cancelled")
        raise RuntimeError("the booking failed")

    assert not Message.objects.filter(recipient=user).exists()


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/login",
        "//evil.example/login",
        "/\\evil.example/login",
        "javascript:alert(1)",
        "appointments/1/",
        "/appointments/ 1/",
        "/appointments/\n1/",
        "/" + "a" * 600,
    ],
)
def test_notify_rejects_a_link_that_is_not_a_path_inside_the_site(url):
    user = make_user()

    with pytest.raises(ServiceError) as caught:
        services.notify(recipient=user, kind="appointment.booked", title="Booked", url=url)

    assert "url" in caught.value.field_errors
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    ("kind", "title"),
    [
        ("Appointment Booked", "Booked"),
        ("booked", "Booked"),
        ("appointment.booked", "  "),
        ("appointment.booked", "x" * 201),
    ],
)
def test_notify_rejects_a_bad_kind_or_title(kind, title):
    with pytest.raises(ServiceError):
        services.notify(recipient=make_user(), kind=kind, title=title)


def test_the_database_refuses_a_link_off_the_site_even_past_the_service():
    with pytest.raises(IntegrityError), transaction.atomic():
        MessageFactory(url="//evil.example/")


def test_a_user_with_messages_cannot_be_deleted():
    message = MessageFactory()

    with pytest.raises(ProtectedError):
        message.recipient.delete()


def test_notify_many_writes_one_message_per_recipient_in_one_insert(
    django_assert_num_queries,
):
    first, second = make_user(Role.DOCTOR), make_user(Role.NURSE)

    with django_assert_num_queries(1):
        created = services.notify_many(
            recipients=[first, second, first],
            kind="waitlist.offered",
            title="A slot is free on Tue 3 Dec, 10:00",
            url="/appointments/",
        )

    assert len(created) == 2
    assert sorted(m.recipient_id for m in Message.objects.all()) == sorted([first.pk, second.pk])
    assert services.notify_many(recipients=[], kind="waitlist.offered", title="x") == []


def test_notify_many_validates_before_writing_anything():
    with pytest.raises(ServiceError):
        services.notify_many(
            recipients=[make_user()], kind="waitlist.offered", title="x", url="https://x.org"
        )
    assert not Message.objects.exists()


def test_marking_read_keeps_the_first_read_time():
    message = MessageFactory()
    first = timezone.now()

    with time_machine.travel(first, tick=False):
        services.message_mark_read(actor=message.recipient, message=message)
    with time_machine.travel(first + timedelta(hours=1), tick=False):
        again = services.message_mark_read(actor=message.recipient, message=message)

    message.refresh_from_db()
    assert message.read_at == first
    assert again.read_at == first
    assert selectors.unread_count(user=message.recipient) == 0


def test_mark_all_read_changes_only_the_actors_unread_messages():
    user = make_user()
    MessageFactory.create_batch(3, recipient=user)
    already = MessageFactory(recipient=user, read_at=timezone.now() - timedelta(days=1))
    someone_else = MessageFactory()

    assert services.messages_mark_all_read(actor=user) == 3

    assert selectors.unread_count(user=user) == 0
    assert Message.objects.get(pk=already.pk).read_at == already.read_at
    assert Message.objects.get(pk=someone_else.pk).read_at is None
    assert services.messages_mark_all_read(actor=user) == 0


def test_another_users_message_cannot_be_marked_read():
    message = MessageFactory()
    intruder = make_user(Role.CLINIC_ADMIN)

    with pytest.raises(NotFound) as caught:
        services.message_mark_read(actor=intruder, message=message)

    assert caught.value.status == 404
    assert Message.objects.get(pk=message.pk).read_at is None


def test_posting_read_for_another_users_message_is_not_found():
    message = MessageFactory()

    response = client_for(make_user()).post(reverse("notifications:read", args=[message.public_id]))

    assert response.status_code == 404
    assert Message.objects.get(pk=message.pk).read_at is None


def test_reading_a_message_follows_its_link():
    message = MessageFactory(url="/patients/me/")

    response = client_for(message.recipient).post(
        reverse("notifications:read", args=[message.public_id])
    )

    assert response.status_code == 302
    assert response["Location"] == "/patients/me/"
    assert Message.objects.get(pk=message.pk).read_at is not None


def test_reading_a_message_without_a_link_returns_to_the_inbox():
    message = MessageFactory(url="")

    response = client_for(message.recipient).post(
        reverse("notifications:read", args=[message.public_id])
    )

    assert response["Location"] == reverse("notifications:list")


def test_read_pages_refuse_get():
    message = MessageFactory()
    client = client_for(message.recipient)

    assert client.get(reverse("notifications:read", args=[message.public_id])).status_code == 405
    assert client.get(reverse("notifications:read_all")).status_code == 405
    assert Message.objects.get(pk=message.pk).read_at is None
