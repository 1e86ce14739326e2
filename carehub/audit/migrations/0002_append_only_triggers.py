"""Make the audit tables append-only in the database itself: UPDATE, DELETE (and TRUNCATE on
PostgreSQL) are rejected by triggers, whatever code or SQL client tries them."""

from django.db import migrations

TABLES = ["audit_changerecord", "audit_event", "audit_accessrecord"]


def install(apps, schema_editor):
    from carehub.audit.triggers import install_sql

    for statement in install_sql(schema_editor.connection.vendor, TABLES):
        schema_editor.execute(statement)


def uninstall(apps, schema_editor):
    from carehub.audit.triggers import uninstall_sql

    for statement in uninstall_sql(schema_editor.connection.vendor, TABLES):
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]
    operations = [migrations.RunPython(install, uninstall)]
