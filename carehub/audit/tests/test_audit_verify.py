"""`manage.py audit_verify` finds altered and removed rows and prints each chain's head."""

from __future__ import annotations

import io
from contextlib import contextmanager

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from carehub.audit import chain
from carehub.audit.models import AccessRecord, ChangeRecord, Event
from carehub.audit.tests.factories import access_row, event_row
from carehub.audit.triggers import AUDIT_TABLES, install_sql, uninstall_sql
from carehub.patients.tests.factories import PatientFactory


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("audit_verify", *args, stdout=out)
    return out.getvalue()


def run_failing(*args: str) -> str:
    out = io.StringIO()
    with pytest.raises(CommandError, match="verification failed"):
        call_command("audit_verify", *args, stdout=out)
    return out.getvalue()


@contextmanager
def triggers_lifted():
    """What an attacker with database rights would do: drop the triggers, tamper, put them back."""
    with connection.cursor() as cursor:
        for statement in uninstall_sql(connection.vendor, AUDIT_TABLES):
            cursor.execute(statement)
        try:
            yield cursor
        finally:
            for statement in install_sql(connection.vendor, AUDIT_TABLES):
                cursor.execute(statement)


@pytest.fixture
def trail():
    patient = PatientFactory()
    events = [event_row(name=f"test.event_{i}") for i in range(5)]
    access = [access_row(actor=None, patient_id=patient.public_id) for _ in range(3)]
    return events, access


@pytest.mark.django_db
def test_clean_chains_verify_ok_and_print_their_heads(trail):
    events, _ = trail

    output = run()

    for table in ("audit_changerecord", "audit_event", "audit_accessrecord"):
        assert f"{table}: " in output
    assert f"audit_event: {Event.objects.count()} rows checked, OK" in output
    seq, digest = chain.head(Event)
    assert seq == events[-1].seq
    assert f"audit_event: head seq {seq} hash {digest}" in output


@pytest.mark.django_db
def test_empty_chain_is_ok():
    output = run("--table", "audit_event")

    assert "audit_event: 0 rows checked, OK" in output
    assert f"head seq 0 hash {chain.GENESIS}" in output


@pytest.mark.django_db
def test_an_altered_row_fails_verification_naming_table_and_seq(trail):
    _, access = trail
    target = access[1]
    with triggers_lifted() as cursor:
        cursor.execute(
            "UPDATE audit_accessrecord SET category = 'consents' WHERE seq = %s", [target.seq]
        )

    output = run_failing()

    assert (
        f"audit_accessrecord seq {target.seq}: content does not match its hash (altered)" in output
    )
    assert "audit_event: " in output and "rows checked, OK" in output  # other chains still reported


@pytest.mark.django_db
def test_an_altered_row_is_found_by_the_command_run_as_a_process_exit_status(trail):
    # CommandError is what `manage.py` turns into exit status 1.
    _, access = trail
    with triggers_lifted() as cursor:
        cursor.execute("UPDATE audit_accessrecord SET view = 'x' WHERE seq = %s", [access[0].seq])
    with pytest.raises(CommandError) as excinfo:
        call_command("audit_verify", "--table", "access", stdout=io.StringIO())
    assert excinfo.value.returncode == 1


@pytest.mark.django_db
def test_deleting_a_middle_row_is_detected_as_missing_and_unlinked(trail):
    events, _ = trail
    middle = events[2]
    with triggers_lifted() as cursor:
        cursor.execute("DELETE FROM audit_event WHERE seq = %s", [middle.seq])

    output = run_failing("--table", "audit_event")

    assert f"audit_event seq {middle.seq}: rows {middle.seq}..{middle.seq} are missing" in output
    assert f"audit_event seq {middle.seq + 1}: does not link to the row before it" in output


@pytest.mark.django_db
def test_rehashing_a_tampered_row_still_breaks_the_next_link(trail):
    events, _ = trail
    target = Event.objects.get(seq=events[1].seq)
    target.name = "test.innocent"
    forged = chain.row_hash(target)
    with triggers_lifted() as cursor:
        cursor.execute(
            "UPDATE audit_event SET name = %s, hash = %s WHERE seq = %s",
            [target.name, forged, target.seq],
        )

    output = run_failing("--table", "events")

    assert f"audit_event seq {target.seq + 1}: does not link to the row before it" in output


@pytest.mark.django_db
def test_removing_the_newest_rows_is_caught_by_an_anchored_head(trail):
    events, _ = trail
    seq, digest = chain.head(Event)
    with triggers_lifted() as cursor:
        cursor.execute("DELETE FROM audit_event WHERE seq >= %s", [events[-2].seq])

    assert "audit_event: " in run(
        "--table", "audit_event"
    )  # a shorter chain is still a valid chain
    output = run_failing("--table", "audit_event", "--anchor", f"audit_event:{seq}:{digest}")

    assert f"audit_event seq {seq}: anchored row is missing" in output


@pytest.mark.django_db
def test_a_matching_anchor_passes(trail):
    seq, digest = chain.head(AccessRecord)

    output = run("--anchor", f"audit_accessrecord:{seq}:{digest}")

    assert f"audit_accessrecord: anchor at seq {seq} matches" in output


@pytest.mark.django_db
def test_unknown_table_and_bad_anchor_are_refused():
    with pytest.raises(CommandError, match="Unknown audit table"):
        call_command("audit_verify", table="audit_nope", stdout=io.StringIO())
    with pytest.raises(CommandError, match="TABLE:SEQ:HASH"):
        call_command("audit_verify", anchor=["audit_event:abc"], stdout=io.StringIO())


@pytest.mark.django_db
def test_table_option_checks_only_that_table(trail):
    output = run("--table", "changes")

    assert "audit_changerecord: " in output
    assert "audit_event" not in output
    assert ChangeRecord.objects.exists()
