"""Concurrent writers never fork or break the chain (PostgreSQL: advisory lock per table)."""

from __future__ import annotations

import io
import threading

import pytest
from django.core.management import call_command
from django.db import connection

from carehub.audit import services
from carehub.audit.models import Event

THREADS, PER_THREAD = 4, 25


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs concurrent writers (PostgreSQL)"
)
@pytest.mark.django_db(transaction=True)
def test_concurrent_appends_keep_seq_contiguous_and_the_chain_valid():
    from django.db import connection as conn

    start = Event.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    barrier = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            barrier.wait()
            for i in range(PER_THREAD):
                services.event_record(
                    actor=None, name="test.concurrent", data={"thread": n, "i": i}
                )
        except BaseException as exc:  # reported below; a thread cannot fail the test itself
            errors.append(exc)
        finally:
            conn.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert not errors
    seqs = list(Event.objects.filter(seq__gt=start).order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(start + 1, start + THREADS * PER_THREAD + 1))
    assert Event.objects.filter(name="test.concurrent").count() == THREADS * PER_THREAD
    out = io.StringIO()
    call_command("audit_verify", "--table", "audit_event", stdout=out)
    assert "rows checked, OK" in out.getvalue()
