"""`manage.py audit_verify`: check the hash chains of the audit tables.

Prints, per table, how many rows were checked and OK or every problem found, then the head of the
chain (last seq and its hash). Exits with status 1 when anything is wrong.

Tail truncation (removing the newest rows) leaves a valid, shorter chain that no check inside the
database can notice. Operators therefore copy the printed heads somewhere the database
administrators cannot write (a ticket, a signed e-mail, a WORM bucket) and pass earlier heads back
with `--anchor table:seq:hash`: the row must still exist with that hash, and since each hash
covers every row before it, the whole chain up to the anchor is proven unchanged."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from carehub.audit import chain
from carehub.audit.models import AccessRecord, ChainedRecord, ChangeRecord, Event

TABLES: dict[str, type[ChainedRecord]] = {
    model._meta.db_table: model for model in (ChangeRecord, Event, AccessRecord)
}
ALIASES = {"changes": "audit_changerecord", "events": "audit_event", "access": "audit_accessrecord"}


def _table_name(value: str) -> str:
    name = ALIASES.get(value, value)
    if name not in TABLES:
        raise CommandError(
            f"Unknown audit table {value!r}; choose from {', '.join([*TABLES, *ALIASES])}."
        )
    return name


class Command(BaseCommand):
    help = (
        "Verify the audit hash chains; print each chain's head for anchoring outside the database."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--table",
            choices=[*TABLES, *ALIASES],
            help="Check only this table (default: all three).",
        )
        parser.add_argument(
            "--anchor",
            action="append",
            default=[],
            metavar="TABLE:SEQ:HASH",
            help="A head from an earlier run; that row must still have that hash (repeatable).",
        )
        parser.add_argument("--batch", type=int, default=5000, help="Rows read per query.")

    def handle(self, *args, **options) -> None:
        names = [_table_name(options["table"])] if options.get("table") else list(TABLES)
        anchors = [self._parse_anchor(a) for a in options.get("anchor") or []]
        problems = 0
        for name in names:
            problems += self._check(name, TABLES[name], options["batch"])
        for table, seq, expected in anchors:
            problems += self._check_anchor(table, seq, expected)
        if problems:
            raise CommandError(f"Audit trail verification failed: {problems} problem(s) found.")
        self.stdout.write(self.style.SUCCESS("All audit chains verified OK."))

    def _check(self, name: str, model: type[ChainedRecord], batch: int) -> int:
        head_seq, head_hash = chain.head(model)
        checked = model.objects.filter(seq__lte=head_seq).count()
        found = 0
        for problem in chain.verify(model, batch=batch, upto=head_seq):
            found += 1
            self.stdout.write(
                self.style.ERROR(f"{problem.table} seq {problem.seq}: {problem.problem}")
            )
        if found:
            self.stdout.write(
                self.style.ERROR(f"{name}: {found} problem(s) in {checked} rows checked")
            )
        else:
            self.stdout.write(f"{name}: {checked} rows checked, OK")
        self.stdout.write(f"{name}: head seq {head_seq} hash {head_hash}")
        return found

    def _parse_anchor(self, value: str) -> tuple[str, int, str]:
        try:
            table, seq, digest = value.split(":")
            return _table_name(table), int(seq), digest.strip().lower()
        except ValueError:
            raise CommandError(f"Anchor {value!r} is not TABLE:SEQ:HASH.") from None

    def _check_anchor(self, table: str, seq: int, expected: str) -> int:
        actual = TABLES[table].objects.filter(seq=seq).values_list("hash", flat=True).first()
        if actual is None:
            self.stdout.write(
                self.style.ERROR(f"{table} seq {seq}: anchored row is missing (chain truncated?)")
            )
            return 1
        if actual != expected:
            self.stdout.write(
                self.style.ERROR(f"{table} seq {seq}: hash differs from the anchored hash")
            )
            return 1
        self.stdout.write(f"{table}: anchor at seq {seq} matches")
        return 0
