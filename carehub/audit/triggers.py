"""SQL for the append-only triggers, per database vendor."""

from __future__ import annotations

AUDIT_TABLES = ["audit_changerecord", "audit_event", "audit_accessrecord"]
MESSAGE = "audit tables are append-only"


def install_sql(vendor: str, tables: list[str]) -> list[str]:
    statements: list[str] = []
    if vendor == "sqlite":
        for table in tables:
            for op in ("UPDATE", "DELETE"):
                statements.append(
                    f"CREATE TRIGGER IF NOT EXISTS {table}_no_{op.lower()} BEFORE {op} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END;"
                )
    elif vendor == "postgresql":
        statements.append(
            "CREATE OR REPLACE FUNCTION carehub_audit_append_only() RETURNS trigger AS $$ "
            f"BEGIN RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'insufficient_privilege'; END; "
            "$$ LANGUAGE plpgsql;"
        )
        for table in tables:
            statements.append(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};")
            statements.append(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION carehub_audit_append_only();"
            )
            statements.append(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table};")
            statements.append(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION carehub_audit_append_only();"
            )
    return statements


def uninstall_sql(vendor: str, tables: list[str]) -> list[str]:
    statements: list[str] = []
    for table in tables:
        if vendor == "sqlite":
            statements += [
                f"DROP TRIGGER IF EXISTS {table}_no_update;",
                f"DROP TRIGGER IF EXISTS {table}_no_delete;",
            ]
        elif vendor == "postgresql":
            statements += [
                f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};",
                f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table};",
            ]
    return statements
