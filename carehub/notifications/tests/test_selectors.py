from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from carehub.accounts.choices import Role
from carehub.accounts.tests.factories import make_user
from carehub.core.exceptions import NotFound
from carehub.notifications import selectors
from carehub.notifications.models import Message
from carehub.notifications.tests.factories import MessageFactory

pytestmark = pytest.mark.django_db


def test_unread_count_counts_only_the_users_unread_messages_in_one_query(
    django_assert_num_queries,
):
    user = make_user()
    MessageFactory.create_batch(2, recipient=user)
    MessageFactory(recipient=user, read_at=timezone.now())
    MessageFactory()  # someone else's

    with django_assert_num_queries(1) as captured:
        assert selectors.unread_count(user=user) == 2
    assert "COUNT(" in captured.captured_queries[0]["sql"].upper()


def test_unread_count_of_an_anonymous_visitor_is_zero_without_a_query(
    django_assert_num_queries,
):
    MessageFactory()
    with django_assert_num_queries(0):
        assert selectors.unread_count(user=AnonymousUser()) == 0


def test_message_list_is_newest_first_and_can_hold_only_unread():
    user = make_user()
    now = timezone.now()
    old = MessageFactory(recipient=user)
    new = MessageFactory(recipient=user, read_at=now)
    Message.objects.filter(pk=old.pk).update(created_at=now - timedelta(days=2))

    assert list(selectors.message_list(actor=user)) == [new, old]
    assert list(selectors.message_list(actor=user, unread_only=True)) == [old]


@pytest.mark.parametrize("role", list(Role))
def test_no_role_reaches_another_users_messages(role):
    message = MessageFactory()
    other = make_user(role)

    assert not selectors.message_list(actor=other).exists()
    assert not Message.objects.restrict(other, "view").exists()
    assert not Message.objects.restrict(other, "change").exists()
    with pytest.raises(NotFound):
        selectors.message_get(actor=other, public_id=message.public_id)


def test_the_owner_may_view_and_change_but_nothing_else():
    message = MessageFactory()
    owner = message.recipient

    assert list(Message.objects.restrict(owner, "view")) == [message]
    assert list(Message.objects.restrict(owner, "change")) == [message]
    assert not Message.objects.restrict(owner, "delete").exists()
    assert not Message.objects.restrict(owner, "add").exists()


def test_a_deactivated_user_reaches_no_messages():
    message = MessageFactory()
    owner = message.recipient
    owner.is_active = False
    owner.save(update_fields=["is_active"])

    assert not Message.objects.restrict(owner, "view").exists()
    assert selectors.unread_count(user=owner) == 0


def test_message_get_with_a_malformed_id_is_not_found():
    with pytest.raises(NotFound):
        selectors.message_get(actor=make_user(), public_id="not-a-uuid")
