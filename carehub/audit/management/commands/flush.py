"""`flush` that can also empty the append-only audit tables.

Emptying the whole database is an explicit, destructive administrator action (and what the test
runner does between transactional tests); the triggers are lifted for its duration only."""

from django.core.management.commands.flush import Command as FlushCommand
from django.db import DEFAULT_DB_ALIAS, connections

from carehub.audit.triggers import AUDIT_TABLES, install_sql, uninstall_sql


class Command(FlushCommand):
    def handle(self, **options):
        conn = connections[options.get("database") or DEFAULT_DB_ALIAS]
        existing = set(conn.introspection.table_names())
        tables = [t for t in AUDIT_TABLES if t in existing]
        self._run(conn, uninstall_sql(conn.vendor, tables))
        try:
            return super().handle(**options)
        finally:
            self._run(conn, install_sql(conn.vendor, tables))

    @staticmethod
    def _run(conn, statements):
        with conn.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
