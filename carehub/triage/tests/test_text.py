"""Free text to findings: synonyms, negation, misspellings, temperatures and durations."""

from __future__ import annotations

import pytest

from carehub.triage import text
from carehub.triage.kb import knowledge_base


def read(sentence: str) -> dict[str, bool]:
    return {m.finding: m.present for m in text.extract(sentence, knowledge_base())}


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("I have a sore throat and a fever", {"sore_throat": True, "fever": True}),
        ("no fever", {"fever": False}),
        ("I have a cough but no fever", {"cough": True, "fever": False}),
        ("She hasn't got a fever.", {"fever": False}),
        ("He doesn't have a cough", {"cough": False}),
        ("No fever, cough or headache", {"fever": False, "cough": False, "headache": False}),
        ("No fever, she has a bad cough", {"fever": False, "cough": True}),
        ("without any vomiting", {"vomiting": False}),
        ("I denied chest pain. I have a headache", {"chest_pain": False, "headache": True}),
    ],
)
def test_negation(sentence, expected):
    found = read(sentence)
    for finding, present in expected.items():
        assert found.get(finding) is present, (sentence, found)


@pytest.mark.parametrize(
    ("sentence", "finding"),
    [
        ("my son has diarhea", "diarrhoea"),
        ("terrible diarrhea", "diarrhoea"),
        ("keeps vomitting", "vomiting"),
        ("bad headach", "headache"),
        ("I am wheezy", "wheezing"),
        ("he threw up twice", "vomiting"),
        ("tummy ache", "abdominal_pain"),
        ("a runny nose", "runny_nose"),
    ],
)
def test_misspellings_and_lay_words(sentence, finding):
    assert read(sentence).get(finding) is True, read(sentence)


@pytest.mark.parametrize(
    ("sentence", "fever", "high"),
    [
        ("her temperature is 40 C", True, True),
        ("temp 38.2", True, None),
        ("a fever of 102F", True, True),
        ("temperature was 36.8", False, None),
        ("she is 40 years old", None, None),
    ],
)
def test_temperatures(sentence, fever, high):
    found = read(sentence)
    assert found.get("fever") is fever
    assert found.get("high_fever") is high


@pytest.mark.parametrize(
    ("sentence", "bucket"),
    [
        ("it started this morning", "duration_under_24_hours"),
        ("for the last 6 hours", "duration_under_24_hours"),
        ("since yesterday", "duration_1_to_7_days"),
        ("for three days", "duration_1_to_7_days"),
        ("for two weeks", "duration_1_to_3_weeks"),
        ("about 2 months", "duration_3_weeks_to_3_months"),
        ("for years", "duration_over_3_months"),
        ("my 9-year-old son has a cough", None),
        ("she is 48 years old", None),
        ("for 2 years", "duration_over_3_months"),
    ],
)
def test_durations(sentence, bucket):
    assert text.duration_bucket(sentence) == bucket


def test_empty_text_reads_nothing():
    assert read("") == {}
    assert read("   ") == {}


def test_a_fever_of_two_days_is_not_a_fever_of_five_days():
    found = read("a sore throat and a fever for two days")
    assert found.get("fever") is True
    assert found.get("fever_5_days_or_more") is None
    assert text.duration_bucket("a fever for two days") == "duration_1_to_7_days"


@pytest.mark.parametrize(
    ("sentence", "finding", "present"),
    [
        ("I can't pass urine", "unable_to_pass_urine", True),
        ("his tongue isn't swollen", "tongue_or_throat_swelling", None),
        ("worried about him getting dehydrated", "reduced_fluid_intake", None),
        ("I'm a 38-year-old man", "fever", None),
    ],
)
def test_phrases_with_negation_words_and_false_friends(sentence, finding, present):
    assert read(sentence).get(finding) is present, read(sentence)
