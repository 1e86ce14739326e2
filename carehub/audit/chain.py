"""The hash chain: appending rows in order and verifying them."""

from __future__ import annotations

import hashlib
import json
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction

from carehub.audit.models import ChainedRecord

GENESIS = "0" * 64


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat(timespec="microseconds")
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def row_hash(record: ChainedRecord) -> str:
    payload = {name: _canonical(getattr(record, name)) for name in record.CHAINED_FIELDS}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), cls=DjangoJSONEncoder)
    return hashlib.sha256((record.prev_hash + text).encode()).hexdigest()


def _lock(model: type[ChainedRecord]) -> None:
    # SQLite: every transaction is BEGIN IMMEDIATE (settings), so writers are already serialised.
    if connection.vendor == "postgresql":
        key = zlib.crc32(model._meta.db_table.encode())
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


def append[R: ChainedRecord](records: list[R]) -> list[R]:
    """Number, link and insert `records` (all of one model) at the end of their chain."""
    if not records:
        return records
    model = type(records[0])
    with transaction.atomic():
        _lock(model)
        last = model.objects.order_by("-seq").values_list("seq", "hash").first()
        seq, prev = last if last else (0, GENESIS)
        for record in records:
            seq += 1
            record.seq = seq
            record.prev_hash = prev
            # Normalise JSON fields through a round trip so the hash matches what is read back.
            for field in record._meta.concrete_fields:
                if field.get_internal_type() == "JSONField":
                    value = getattr(record, field.attname)
                    setattr(
                        record, field.attname, json.loads(json.dumps(value, cls=DjangoJSONEncoder))
                    )
            record.hash = row_hash(record)
            prev = record.hash
        model.objects.bulk_create(records)
    return records


@dataclass(frozen=True)
class ChainProblem:
    table: str
    seq: int
    problem: str


def head(model: type[ChainedRecord]) -> tuple[int, str]:
    """(seq, hash) of the last row of `model`'s chain, (0, GENESIS) when it is empty."""
    last = model.objects.order_by("-seq").values_list("seq", "hash").first()
    return last if last else (0, GENESIS)


def verify(
    model: type[ChainedRecord], batch: int = 5000, upto: int | None = None
) -> Iterator[ChainProblem]:
    """Yield every break in `model`'s chain: altered rows, removed rows, reordered rows.

    `upto` stops at that seq, so rows appended while verifying do not change what was checked.
    Removing rows from the end leaves a valid, shorter chain: only a head recorded elsewhere
    (see `head`) reveals that."""
    table = model._meta.db_table
    expected_seq, prev = 1, GENESIS
    qs = model.objects.order_by("seq")
    if upto is not None:
        qs = qs.filter(seq__lte=upto)
    last_seq = 0
    while True:
        chunk = list(qs.filter(seq__gt=last_seq)[:batch])
        if not chunk:
            break
        for record in chunk:
            if record.seq != expected_seq:
                yield ChainProblem(
                    table, expected_seq, f"rows {expected_seq}..{record.seq - 1} are missing"
                )
            if record.prev_hash != prev:
                yield ChainProblem(table, record.seq, "does not link to the row before it")
            if row_hash(record) != record.hash:
                yield ChainProblem(table, record.seq, "content does not match its hash (altered)")
            prev = record.hash
            expected_seq = record.seq + 1
            last_seq = record.seq
