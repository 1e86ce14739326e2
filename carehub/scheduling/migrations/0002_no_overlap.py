"""No double booking, enforced by the database: two active appointments (booked, checked in,
in progress) of one practitioner, or of one patient, cannot overlap in time.

PostgreSQL: exclusion constraints over tstzrange(start, end) with btree_gist for the id.
SQLite: BEFORE INSERT/UPDATE triggers that abort the write (SQLite writes are serialised, so
the check and the write cannot interleave with another writer). Both surface as IntegrityError.
"""

from django.db import migrations

ACTIVE = "('booked', 'checked_in', 'in_progress')"
TABLE = "scheduling_appointment"
COLUMNS = {"practitioner": "practitioner_id", "patient": "patient_id"}

PG_INSTALL = ["CREATE EXTENSION IF NOT EXISTS btree_gist"] + [
    f"""ALTER TABLE {TABLE} ADD CONSTRAINT appointment_{name}_no_overlap
        EXCLUDE USING gist ({column} WITH =, tstzrange("start", "end", '[)') WITH &&)
        WHERE (status IN {ACTIVE})"""
    for name, column in COLUMNS.items()
]
PG_UNINSTALL = [
    f"ALTER TABLE {TABLE} DROP CONSTRAINT IF EXISTS appointment_{name}_no_overlap"
    for name in COLUMNS
]


def _sqlite_trigger(name: str, column: str, event: str) -> str:
    not_self = "AND a.id <> NEW.id" if event.startswith("UPDATE") else ""
    # Constants only (no input): S608 does not apply.
    return f"""CREATE TRIGGER appointment_{name}_no_overlap_{event.split()[0].lower()}
        BEFORE {event} ON {TABLE}
        WHEN NEW.status IN {ACTIVE} AND EXISTS (
            SELECT 1 FROM {TABLE} a
            WHERE a.{column} = NEW.{column} AND a.status IN {ACTIVE}
              AND a."start" < NEW."end" AND NEW."start" < a."end" {not_self})
        BEGIN SELECT RAISE(ABORT, 'appointment_{name}_no_overlap'); END"""  # noqa: S608


SQLITE_INSTALL = [
    _sqlite_trigger(name, column, event)
    for name, column in COLUMNS.items()
    for event in ("INSERT", 'UPDATE OF "start", "end", status, practitioner_id, patient_id')
]
SQLITE_UNINSTALL = [
    f"DROP TRIGGER IF EXISTS appointment_{name}_no_overlap_{event}"
    for name in COLUMNS
    for event in ("insert", "update")
]


def install(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    statements = {"postgresql": PG_INSTALL, "sqlite": SQLITE_INSTALL}.get(vendor)
    if statements is None:
        raise RuntimeError(f"No overlap constraint for database vendor {vendor!r}.")
    for statement in statements:
        schema_editor.execute(statement)


def uninstall(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for statement in {"postgresql": PG_UNINSTALL, "sqlite": SQLITE_UNINSTALL}.get(vendor, []):
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("scheduling", "0001_initial")]
    operations = [migrations.RunPython(install, uninstall)]
