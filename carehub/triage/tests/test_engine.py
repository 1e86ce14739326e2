"""The interview engine: red flags force their level and end the interview, interviews always
terminate without repeating a question, and the public vignettes keep their accuracy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carehub.triage import engine, evaluation
from carehub.triage.kb import LEVEL_RANK, RedFlag, knowledge_base

KB = knowledge_base()
VIGNETTES = Path(__file__).resolve().parents[3] / "bench" / "data" / "triage-vignettes-public.jsonl"


def patient_for(rule: RedFlag) -> tuple[float, str, dict[str, bool]]:
    """The smallest presentation that satisfies `rule`."""
    age = rule.age_min if rule.age_min is not None else 30.0
    if rule.age_max is not None and age > rule.age_max:
        age = rule.age_max
    sex = rule.sex or ("female" if "pregnant" in rule.finding_ids() else "male")
    present = {f: True for f in rule.all_of}
    if rule.any_of:
        present[rule.any_of[0]] = True
    return age, sex, present


@pytest.mark.parametrize("rule", KB.red_flags, ids=lambda r: r.id)
def test_every_red_flag_forces_its_level(rule):
    age, sex, present = patient_for(rule)
    step = engine.step(kb=KB, age=age, sex=sex, initial=present, answers={})
    if rule.level == "emergency":
        assert step.done, "an emergency red flag must end the interview at once"
    answers: dict[str, str] = {}
    while not step.done:
        answers[step.question.finding] = engine.UNKNOWN
        step = engine.step(kb=KB, age=age, sex=sex, initial=present, answers=answers)
    result = step.result
    assert LEVEL_RANK[result.triage] >= LEVEL_RANK[rule.level]
    assert set(result.red_flags) & set(present)
    if rule.level == result.triage:
        assert result.advice


def test_a_red_flag_does_not_fire_outside_its_age_limits():
    """Fever in a baby under 3 months is an emergency; the same fever at 40 is not."""
    rule = next(r for r in KB.red_flags if r.age_max is not None and r.age_max < 1)
    baby_age, sex, present = patient_for(rule)
    known = engine.derive(dict.fromkeys(present, "yes"), KB)
    assert rule in engine.fired_red_flags(KB, known, baby_age, sex)
    assert rule not in engine.fired_red_flags(KB, known, 40, sex)


def test_denying_the_general_finding_denies_the_specific_one():
    known = engine.derive({"fever": "no"}, KB)
    assert known["high_fever"] is False
    known = engine.derive({"coloured_phlegm": "yes"}, KB)
    assert known["productive_cough"] is True and known["cough"] is True
    known = engine.derive({"duration_1_to_7_days": "yes"}, KB)
    assert known["duration_over_3_months"] is False


askable = sorted(f for f in KB.findings)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    age=st.floats(min_value=0, max_value=120, allow_nan=False),
    sex=st.sampled_from(["male", "female"]),
    initial=st.dictionaries(st.sampled_from(askable), st.booleans(), max_size=5),
    replies=st.lists(st.sampled_from(["yes", "no", "unknown"]), min_size=30, max_size=30),
)
def test_every_interview_terminates_without_repeating_a_question(age, sex, initial, replies):
    answers: dict[str, str] = {}
    asked: list[str] = []
    for reply in replies:
        step = engine.step(kb=KB, age=age, sex=sex, initial=initial, answers=answers)
        if step.done:
            break
        finding = step.question.finding
        assert finding not in asked and finding not in initial
        assert finding in KB.findings
        asked.append(finding)
        answers[finding] = reply
    else:
        step = engine.step(kb=KB, age=age, sex=sex, initial=initial, answers=answers)
    assert step.done, "the interview did not finish"
    assert len(asked) <= KB.meta.engine.max_questions
    result = step.result
    assert result.triage in LEVEL_RANK
    assert result.specialty in KB.specialties
    if not result.red_flags:
        # the advice fits the level given: it is that of a listed cause at that level if any
        at_level = [c for c in result.conditions if c.level == result.triage]
        advice_of = {c.id: c.advice for c in KB.conditions}
        if at_level:
            assert result.advice == advice_of[at_level[0].id]
    if not any(r.level == "emergency" for r in KB.red_flags if r.label in result.reasons):
        # most likely first (after an emergency red flag, the serious causes come first)
        scores = [c.score for c in result.conditions]
        assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize("mode", ["text", "structured"])
def test_public_vignettes_keep_their_accuracy(mode):
    """A regression guard on the development vignettes (the held-out set is scored by
    bench/triage_eval.py): a knowledge-base or engine change that loses accuracy fails here."""
    vignettes = evaluation.load_vignettes(VIGNETTES)
    start, answer = evaluation.engine_client(KB)
    runs = [evaluation.play(v, mode, start, answer) for v in vignettes]
    m = evaluation.metrics(runs, set(KB.specialties))
    assert m["errors"] == 0
    assert m["repeated_questions"] == 0
    assert m["triage_exact"].value >= 0.85
    assert m["emergency_sensitivity"].value >= 0.93
    assert m["self_care_sent_to_emergency"].value == 0
    assert m["specialty"].value >= 0.9
    assert m["dx_top3"].value >= 0.9


def test_vignette_file_is_the_published_development_set():
    rows = [json.loads(line) for line in VIGNETTES.read_text().splitlines() if line.strip()]
    assert len(rows) == 45
    assert {r["gold_triage"] for r in rows} == {"emergency", "urgent", "routine", "self_care"}


def triage_of(age: float, sex: str, words: str) -> str:
    from carehub.triage import text

    initial = {m.finding: m.present for m in text.extract(words, KB)}
    answers: dict[str, str] = {}
    for _ in range(30):
        step = engine.step(kb=KB, age=age, sex=sex, initial=initial, answers=answers)
        if step.question is None:
            break
        answers[step.question.finding] = engine.UNKNOWN
    assert step.result is not None
    return step.result.triage


EVERYDAY = [
    (70, "male", "My face has drooped on one side and I can't lift my arm", "emergency"),
    (45, "female", "Worst headache of my life, came on suddenly an hour ago", "emergency"),
    (30, "male", "I can't breathe properly and my lips are going blue", "emergency"),
    (0.5, "female", "My baby is floppy and won't feed, she has a high temperature", "emergency"),
    (20, "male", "I have a fever and a rash that doesn't fade when pressed", "emergency"),
    (25, "female", "I want to kill myself and I have a plan", "emergency"),
    (16, "male", "He swallowed a whole bottle of paracetamol an hour ago", "emergency"),
    (35, "female", "8 weeks pregnant, bad pain low on one side, vaginal bleeding", "emergency"),
    (30, "female", "I've got a cold, runny nose and sneezing for two days, no fever", "self_care"),
    (40, "male", "Twisted my ankle at football, it's swollen but I can walk on it", "self_care"),
]


@pytest.mark.parametrize(("age", "sex", "words", "level"), EVERYDAY)
def test_everyday_words_reach_the_right_level(age, sex, words, level):
    assert triage_of(age, sex, words) == level
