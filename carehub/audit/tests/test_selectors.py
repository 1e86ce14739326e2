"""Audit selectors used by other apps (which may not import audit.models)."""

from __future__ import annotations

import uuid

import pytest

from carehub.audit import selectors
from carehub.audit.choices import Priority
from carehub.audit.tests.factories import event_row


@pytest.mark.django_db
def test_account_security_events_are_high_priority_user_events_without_a_patient():
    lockout = event_row(name="user.locked_out", priority=Priority.HIGH)
    event_row(name="user.logged_in")
    event_row(name="user.deactivated", priority=Priority.HIGH, patient_id=uuid.uuid4())
    event_row(name="patient.merged", priority=Priority.HIGH)

    assert [e.seq for e in selectors.account_security_event_list()] == [lockout.seq]


@pytest.mark.django_db
def test_merge_event_latest_finds_the_newest_merge_of_a_record():
    duplicate = uuid.uuid4()
    event_row(name="patient.merged", data={"duplicate": str(duplicate), "moved": []})
    newest = event_row(name="patient.merged", data={"duplicate": str(duplicate), "moved": [1]})
    event_row(name="patient.merged", data={"duplicate": str(uuid.uuid4())})

    assert selectors.merge_event_latest(duplicate_public_id=duplicate).seq == newest.seq
    assert selectors.merge_event_latest(duplicate_public_id=uuid.uuid4()) is None
