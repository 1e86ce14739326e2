"""The knowledge base loads, is complete, and a bad file fails loudly naming the file and place."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml
from django.core import checks

from carehub.triage import kb

CONDITION = {
    "id": "test_condition",
    "name": "Test condition",
    "icd10": "J06.9",
    "specialty": "general_practice",
    "triage": "self_care",
    "prevalence": "common",
    "findings": {"cough": 0.8, "sore_throat": 0.6},
    "advice": "Rest and drink plenty of fluids.",
    "source": "Test guideline",
    "version": 1,
}


@pytest.fixture
def kb_dir(tmp_path):
    target = tmp_path / "knowledge"
    shutil.copytree(kb.KNOWLEDGE_DIR, target)
    return target


def write_condition(kb_dir, **changes):
    (kb_dir / "conditions" / "zz_test.yaml").write_text(
        yaml.safe_dump({"conditions": [{**CONDITION, **changes}]})
    )


def test_shipped_knowledge_base_loads_with_provenance():
    loaded = kb.load()
    assert loaded.meta.version and loaded.meta.author and loaded.meta.reviewer
    assert len(loaded.conditions) >= 100
    assert len(loaded.red_flags) >= 30
    assert all(c.source and c.version >= 1 for c in loaded.conditions)
    assert all(r.source and r.version >= 1 for r in loaded.red_flags)


def test_every_specialty_and_level_is_reachable_from_some_condition():
    loaded = kb.load()
    levels = {c.triage for c in loaded.conditions} | {
        r.level for c in loaded.conditions for r in c.escalate
    }
    assert levels == {"emergency", "urgent", "routine", "self_care"}


def test_the_copy_of_the_vocabulary_keeps_every_published_id():
    ids = {f["id"] for f in json.loads((kb.KNOWLEDGE_DIR / "findings.json").read_text())}
    assert len(ids) >= 264
    assert {"chest_pain", "duration_over_3_months", "rash_non_blanching"} <= ids


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"findings": {"cough": 0.8, "coughh": 0.5}}, "unknown finding id(s) coughh"),
        ({"icd10": "J6"}, "icd10"),
        ({"specialty": "wizardry"}, "unknown specialty code 'wizardry'"),
        ({"findings": {"cough": 1.5, "fever": 0.2}}, "findings.cough"),
        ({"triage": "soon"}, "triage"),
        ({"discriminating": ["fever"]}, "discriminating findings not listed"),
        ({"age_min": 50, "age_max": 10}, "age_min is above age_max"),
        ({"source": ""}, "source"),
        ({"surprise": 1}, "surprise"),
        (
            {"escalate": [{"level": "emergency", "reason": "x bad", "source": "guide"}]},
            "at least one finding",
        ),
    ],
)
def test_a_bad_condition_names_file_and_problem(kb_dir, changes, message):
    write_condition(kb_dir, **changes)
    with pytest.raises(kb.KnowledgeBaseError) as err:
        kb.load(kb_dir)
    assert "zz_test.yaml" in str(err.value)
    assert message in str(err.value)


def test_duplicate_condition_ids_are_refused(kb_dir):
    first = kb.load().conditions[0].id
    write_condition(kb_dir, id=first)
    with pytest.raises(kb.KnowledgeBaseError, match=r"duplicate condition id"):
        kb.load(kb_dir)


def test_malformed_yaml_is_refused(kb_dir):
    (kb_dir / "red_flags" / "zz_bad.yaml").write_text("red_flags: [\n  - id: x\n")
    with pytest.raises(kb.KnowledgeBaseError, match=r"zz_bad.yaml: not valid YAML"):
        kb.load(kb_dir)


def test_red_flag_with_unknown_finding_is_refused(kb_dir):
    (kb_dir / "red_flags" / "zz_bad.yaml").write_text(
        yaml.safe_dump(
            {
                "red_flags": [
                    {
                        "id": "bad_rule",
                        "level": "emergency",
                        "all": ["chest_pain", "sweatting"],
                        "label": "Bad rule",
                        "advice": "Call the emergency number.",
                        "source": "Test guideline",
                        "version": 1,
                    }
                ]
            }
        )
    )
    with pytest.raises(kb.KnowledgeBaseError, match=r"bad_rule.*sweatting"):
        kb.load(kb_dir)


def test_missing_meta_is_refused(kb_dir):
    (kb_dir / "kb.yaml").write_text("version: '1'\n")
    with pytest.raises(kb.KnowledgeBaseError, match=r"kb\.yaml: author"):
        kb.load(kb_dir)


def test_lexicon_phrase_for_unknown_finding_is_refused(kb_dir):
    (kb_dir / "lexicon" / "zz_bad.yaml").write_text(
        yaml.safe_dump({"phrases": {"belly": ["tummy"]}})
    )
    with pytest.raises(kb.KnowledgeBaseError, match=r"lexicon/zz_bad\.yaml: unknown finding id"):
        kb.load(kb_dir)


@pytest.mark.django_db
def test_system_check_reports_a_broken_knowledge_base(monkeypatch):
    def broken():
        raise kb.KnowledgeBaseError("conditions/x.yaml: boom")

    monkeypatch.setattr(kb, "knowledge_base", broken)
    errors = [e for e in checks.run_checks() if e.id == "triage.E001"]
    assert errors and "boom" in errors[0].msg
