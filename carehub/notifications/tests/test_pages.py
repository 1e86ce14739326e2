"""What the inbox and the navigation show."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from carehub.accounts.choices import Role
from carehub.accounts.tests.factories import make_user
from carehub.core.testing.contracts import client_for, make_actor
from carehub.core.views import HOME_BY_ROLE
from carehub.notifications.tests.factories import MessageFactory

pytestmark = pytest.mark.django_db


def _inbox_queries(captured) -> list[str]:
    return [q["sql"] for q in captured.captured_queries if "notifications_message" in q["sql"]]


@pytest.mark.parametrize("role", list(Role))
def test_every_role_sees_the_inbox_link_with_its_unread_count(role):
    actor = make_actor(role)
    MessageFactory.create_batch(2, recipient=actor)
    MessageFactory(recipient=actor, read_at=timezone.now())
    MessageFactory.create_batch(4)  # other people's
    client = client_for(actor)

    response = client.get(reverse(HOME_BY_ROLE[role]))

    assert response.status_code == 200
    html = response.content.decode()
    link = (
        f'<a href="{reverse("notifications:list")}">Inbox <span class="badge">2 unread</span></a>'
    )
    # Both the wide navigation and the phone menu carry it.
    assert html.count(link) == 2


def test_the_unread_count_costs_one_query_per_page():
    actor = make_actor(Role.PATIENT)
    MessageFactory.create_batch(3, recipient=actor)
    client = client_for(actor)

    with CaptureQueriesContext(connection) as captured:
        response = client.get(reverse("patients:me"))

    assert response.status_code == 200
    assert "3 unread" in response.content.decode()
    assert len(_inbox_queries(captured)) == 1


def test_without_unread_messages_the_link_has_no_count():
    actor = make_user(Role.AUDITOR)
    MessageFactory(recipient=actor, read_at=timezone.now())

    html = client_for(actor).get(reverse("audit:report")).content.decode()

    assert f'<a href="{reverse("notifications:list")}">Inbox</a>' in html
    assert "unread</span>" not in html


def test_signed_out_pages_show_no_inbox_and_query_none():
    with CaptureQueriesContext(connection) as captured:
        html = client_for(None).get(reverse("account_login")).content.decode()

    assert "Inbox" not in html
    assert _inbox_queries(captured) == []


def test_the_inbox_marks_unread_messages_and_shows_only_the_users_own():
    actor = make_user(Role.RECEPTIONIST)
    MessageFactory(
        recipient=actor, title="Appointment booked for Tue 3 Dec, 10:00", url="/patients/"
    )
    MessageFactory(
        recipient=actor,
        title="Appointment cancelled for Mon 2 Dec, 09:00",
        read_at=timezone.now(),
        url="/patients/",
    )
    MessageFactory(title="Someone else's message")

    html = client_for(actor).get(reverse("notifications:list")).content.decode()

    assert re.search(
        r'<span class="badge">Unread</span> <strong>Appointment booked for Tue 3 Dec, 10:00', html
    )
    assert "You have 1 unread message." in html
    assert "Mark all as read" in html
    # The unread message opens through the read endpoint (so it is marked), the read one directly.
    assert html.count('action="/notifications/') == 2  # its read form and "mark all"
    assert '<a href="/patients/"' in html
    assert "Appointment cancelled for Mon 2 Dec, 09:00" in html
    assert "Someone else" not in html


def test_the_inbox_pages_by_25_newest_first():
    actor = make_user()
    messages = MessageFactory.create_batch(30, recipient=actor)
    client = client_for(actor)

    first = client.get(reverse("notifications:list")).content.decode()
    second = client.get(reverse("notifications:list"), {"page": 2}).content.decode()

    assert first.count("<article") == 25
    assert second.count("<article") == 5
    assert "Page 1 of 2 (30 messages)" in first
    # Created in order, so the last one is the newest.
    assert str(messages[-1].public_id) in first
    assert str(messages[0].public_id) in second
