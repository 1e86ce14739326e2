"""Load the shared specialty vocabulary (carehub/directory/data/specialties.json).

Idempotent: re-running updates labels in place and never deletes a specialty, since
practitioners may already point at it. Later vocabulary changes ship as new data migrations."""

import json
from pathlib import Path

from django.db import migrations

DATA_FILE = Path(__file__).resolve().parent.parent / "data" / "specialties.json"


def load_specialties(apps, schema_editor):
    Specialty = apps.get_model("directory", "Specialty")
    for item in json.loads(DATA_FILE.read_text(encoding="utf-8")):
        Specialty.objects.update_or_create(code=item["code"], defaults={"label": item["label"]})


class Migration(migrations.Migration):
    dependencies = [
        ("directory", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(load_specialties, migrations.RunPython.noop),
    ]
