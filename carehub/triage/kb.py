"""The symptom-checker knowledge base: reviewed data files, validated when loaded.

Layout of `carehub/triage/knowledge/` (see docs/triage.md for the authoring guide):

* `kb.yaml`            version, author, reviewer, changelog and the engine's tuning settings
* `findings.json`      the controlled vocabulary (ids never change meaning)
* `specialties.json`   the specialty codes a result may name
* `findings_extra.yaml` implications (specific -> general), base rates, extra findings
* `lexicon/*.yaml`     extra lay phrases per finding for free-text matching
* `conditions/*.yaml`  conditions: ICD-10, specialty, triage, prevalence, likelihoods, escalations
* `red_flags/*.yaml`   rules that force a triage level

Every file is checked against the pydantic models below and every finding id, specialty code and
condition id is cross-checked, so a typo fails loudly at start-up (and in CI), naming the file
and the place, instead of silently weakening a rule.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

KNOWLEDGE_DIR = Path(__file__).resolve().parent / "knowledge"

Level = Literal["emergency", "urgent", "routine", "self_care"]
LEVELS: tuple[str, ...] = ("self_care", "routine", "urgent", "emergency")  # least to most urgent
LEVEL_RANK = {name: rank for rank, name in enumerate(LEVELS)}

# Relative prior odds of a condition among people who consult with symptoms.
PREVALENCE = {
    "very_common": 1.0,
    "common": 0.3,
    "uncommon": 0.1,
    "rare": 0.03,
    "very_rare": 0.01,
}

ICD10_PATTERN = r"^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$"
ID_PATTERN = r"^[a-z][a-z0-9_]*$"
Probability = Annotated[float, Field(gt=0, lt=1)]


class KnowledgeBaseError(Exception):
    """A knowledge-base file is missing, malformed or refers to something that does not exist."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Criteria(_Strict):
    """When a rule applies: all of `all` present, at least one of `any` present (if given),
    none of `none` present, and the patient within the age and sex limits."""

    all_of: list[str] = Field(default_factory=list, alias="all")
    any_of: list[str] = Field(default_factory=list, alias="any")
    none_of: list[str] = Field(default_factory=list, alias="none")
    age_min: float | None = Field(default=None, ge=0, le=120)
    age_max: float | None = Field(default=None, ge=0, le=120)
    sex: Literal["male", "female"] | None = None

    @model_validator(mode="after")
    def _has_findings(self) -> Criteria:
        if not self.all_of and not self.any_of:
            raise ValueError("a rule needs at least one finding in 'all' or 'any'")
        return self

    def finding_ids(self) -> set[str]:
        return {*self.all_of, *self.any_of, *self.none_of}


class RedFlag(Criteria):
    """A finding or combination that forces a triage level whatever the conditions say."""

    id: Annotated[str, Field(pattern=ID_PATTERN)]
    level: Level
    label: str = Field(min_length=3, description="Plain-language name of the danger sign.")
    advice: str = Field(min_length=10, description="What the patient should do now.")
    source: str = Field(min_length=5)
    version: int = Field(ge=1)


class Escalation(Criteria):
    """Raises one condition's triage level when these findings are present (e.g. CRB-65)."""

    level: Level
    reason: str = Field(min_length=3)
    source: str = Field(min_length=5)


class Condition(_Strict):
    """A condition the checker can suggest, with P(finding reported | condition)."""

    id: Annotated[str, Field(pattern=ID_PATTERN)]
    name: str = Field(min_length=3)
    icd10: Annotated[str, Field(pattern=ICD10_PATTERN)]
    specialty: str
    specialty_child: str | None = None
    triage: Level
    prevalence: Literal["very_common", "common", "uncommon", "rare", "very_rare"]
    age_min: float = Field(default=0, ge=0, le=120)
    age_max: float = Field(default=120, ge=0, le=120)
    sex: Literal["any", "male", "female"] = "any"
    findings: dict[str, Probability] = Field(min_length=2)
    discriminating: list[str] = Field(default_factory=list)
    requires_any: list[str] = Field(default_factory=list)
    escalate: list[Escalation] = Field(default_factory=list)
    advice: str = Field(min_length=10)
    source: str = Field(min_length=5)
    version: int = Field(ge=1)

    @model_validator(mode="after")
    def _consistent(self) -> Condition:
        if self.age_min > self.age_max:
            raise ValueError("age_min is above age_max")
        stray = [f for f in self.discriminating if f not in self.findings]
        if stray:
            raise ValueError(f"discriminating findings not listed in 'findings': {stray}")
        return self


class ConditionFile(_Strict):
    conditions: list[Condition] = Field(min_length=1)


class RedFlagFile(_Strict):
    red_flags: list[RedFlag] = Field(min_length=1)


class LexiconFile(_Strict):
    phrases: dict[str, list[Annotated[str, Field(min_length=2)]]]


class ExtraFinding(_Strict):
    id: Annotated[str, Field(pattern=ID_PATTERN)]
    category: str
    label: str
    question: str
    synonyms: list[str] = Field(default_factory=list)
    snomed: str | None = None


class FindingsExtra(_Strict):
    implies: dict[str, list[str]] = Field(default_factory=dict)
    exclusive_groups: list[list[str]] = Field(default_factory=list)
    base_rates: dict[str, Probability] = Field(default_factory=dict)
    why: dict[str, str] = Field(default_factory=dict)
    drop_phrases: dict[str, list[str]] = Field(default_factory=dict)
    extra_findings: list[ExtraFinding] = Field(default_factory=list)


DEFAULT_THRESHOLDS: dict[Level, float] = {"emergency": 0.2, "urgent": 0.3, "routine": 0.4}


class EngineSettings(_Strict):
    leak: Probability = 0.03
    max_questions: int = Field(default=14, ge=1, le=29)
    stop_confidence: Probability = 0.8
    stop_triage_confidence: Probability = 0.9
    min_information_gain: float = Field(default=0.02, ge=0)
    triage_weight: float = Field(default=1.5, ge=0)
    red_flag_bonus: float = Field(default=0.5, ge=0)
    discriminating_bonus: float = Field(default=0.0, ge=0)
    thresholds: dict[Level, Probability] = Field(default_factory=lambda: dict(DEFAULT_THRESHOLDS))
    child_age: float = Field(default=16, ge=0, le=120)


class Meta(_Strict):
    version: str = Field(min_length=1)
    author: str = Field(min_length=2)
    reviewer: str = Field(min_length=2)
    reviewed_on: str
    status: str = Field(min_length=2)
    description: str = ""
    changelog: list[str] = Field(default_factory=list)
    engine: EngineSettings = Field(default_factory=EngineSettings)


@dataclass(frozen=True)
class Finding:
    id: str
    category: str
    label: str
    question: str
    synonyms: tuple[str, ...]
    snomed: str | None
    why: str


@dataclass(eq=False)  # hashable by identity: caches key on the loaded instance
class KnowledgeBase:
    """Everything the engine needs, validated and cross-checked."""

    meta: Meta
    findings: dict[str, Finding]
    specialties: dict[str, str]
    conditions: list[Condition]
    red_flags: list[RedFlag]
    implies: dict[str, frozenset[str]]  # finding -> everything it implies (transitively)
    implied_by: dict[str, frozenset[str]]  # finding -> everything that implies it
    exclusive_groups: list[tuple[str, ...]]
    base_rates: dict[str, float]
    phrases: dict[str, tuple[str, ...]]  # finding -> lay phrases (vocabulary synonyms + lexicon)
    sources: list[str] = field(default_factory=list)

    @property
    def version(self) -> str:
        return self.meta.version


def _read(path: Path) -> object:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise KnowledgeBaseError(f"{path.name}: cannot read ({exc.strerror})") from exc
    try:
        return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise KnowledgeBaseError(
            f"{path.name}: not valid {path.suffix[1:].upper()}: {exc}"
        ) from exc


def _validated[M: BaseModel](model: type[M], data: object, where: str) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        place = ".".join(str(part) for part in first["loc"])
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise KnowledgeBaseError(f"{where}: {place}: {first['msg']}{more}") from exc


def _files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob("*.yaml") if not p.name.startswith("_"))


def load(directory: Path = KNOWLEDGE_DIR) -> KnowledgeBase:
    """Read and validate every file; raises KnowledgeBaseError naming the file and the problem."""
    meta = _validated(Meta, _read(directory / "kb.yaml"), "kb.yaml")
    raw_findings = _read(directory / "findings.json")
    if not isinstance(raw_findings, list):
        raise KnowledgeBaseError("findings.json: expected a list of findings")
    extra = _validated(
        FindingsExtra, _read(directory / "findings_extra.yaml"), "findings_extra.yaml"
    )
    entries = [
        _validated(ExtraFinding, item, f"findings.json[{n}]") for n, item in enumerate(raw_findings)
    ] + list(extra.extra_findings)
    findings: dict[str, Finding] = {}
    for entry in entries:
        if entry.id in findings:
            raise KnowledgeBaseError(f"findings: duplicate finding id {entry.id!r}")
        findings[entry.id] = Finding(
            id=entry.id,
            category=entry.category,
            label=entry.label,
            question=entry.question,
            synonyms=tuple(entry.synonyms),
            snomed=entry.snomed,
            why=extra.why.get(entry.id, ""),
        )
    raw_specialties = _read(directory / "specialties.json")
    if not isinstance(raw_specialties, list):
        raise KnowledgeBaseError("specialties.json: expected a list of specialties")
    specialties = {s["code"]: s["label"] for s in raw_specialties}

    def check_ids(ids: set[str] | list[str], where: str) -> None:
        unknown = sorted(set(ids) - findings.keys())
        if unknown:
            raise KnowledgeBaseError(f"{where}: unknown finding id(s) {', '.join(unknown)}")

    for source, targets in extra.implies.items():
        check_ids([source, *targets], f"findings_extra.yaml: implies.{source}")
    for group in extra.exclusive_groups:
        check_ids(group, "findings_extra.yaml: exclusive_groups")
    check_ids(list(extra.base_rates), "findings_extra.yaml: base_rates")
    check_ids(list(extra.why), "findings_extra.yaml: why")
    check_ids(list(extra.drop_phrases), "findings_extra.yaml: drop_phrases")

    conditions: list[Condition] = []
    seen_conditions: dict[str, str] = {}
    for path in _files(directory / "conditions"):
        parsed = _validated(ConditionFile, _read(path), f"conditions/{path.name}")
        for n, condition in enumerate(parsed.conditions):
            where = f"conditions/{path.name}: conditions.{n} ({condition.id})"
            if condition.id in seen_conditions:
                raise KnowledgeBaseError(
                    f"{where}: duplicate condition id, also in {seen_conditions[condition.id]}"
                )
            seen_conditions[condition.id] = path.name
            check_ids(
                [
                    *condition.findings,
                    *condition.requires_any,
                    *(f for rule in condition.escalate for f in rule.finding_ids()),
                ],
                where,
            )
            for code in (condition.specialty, condition.specialty_child):
                if code is not None and code not in specialties:
                    raise KnowledgeBaseError(f"{where}: unknown specialty code {code!r}")
            conditions.append(condition)
    if not conditions:
        raise KnowledgeBaseError("conditions/: no condition files")

    red_flags: list[RedFlag] = []
    seen_flags: set[str] = set()
    for path in _files(directory / "red_flags"):
        parsed_flags = _validated(RedFlagFile, _read(path), f"red_flags/{path.name}")
        for n, rule in enumerate(parsed_flags.red_flags):
            where = f"red_flags/{path.name}: red_flags.{n} ({rule.id})"
            if rule.id in seen_flags:
                raise KnowledgeBaseError(f"{where}: duplicate red-flag id")
            seen_flags.add(rule.id)
            check_ids(rule.finding_ids(), where)
            red_flags.append(rule)

    phrases: dict[str, list[str]] = {
        fid: [fid.replace("_", " "), f.label, *f.synonyms]
        for fid, f in findings.items()
        if f.category != "course"
    }
    for fid, f in findings.items():
        if f.category == "course":
            # Durations are read by the duration parser in text.py, not from phrases.
            phrases[fid] = [] if fid.startswith("duration_") else list(f.synonyms)
    for path in _files(directory / "lexicon"):
        lexicon = _validated(LexiconFile, _read(path), f"lexicon/{path.name}")
        check_ids(list(lexicon.phrases), f"lexicon/{path.name}")
        for fid, extra_phrases in lexicon.phrases.items():
            phrases[fid].extend(extra_phrases)

    for fid, dropped in extra.drop_phrases.items():
        unwanted = {d.lower() for d in dropped}
        phrases[fid] = [p for p in phrases[fid] if p.lower() not in unwanted]

    implies = _closure(extra.implies)
    implied_by: dict[str, set[str]] = {}
    for specific, general in implies.items():
        for target in general:
            implied_by.setdefault(target, set()).add(specific)

    return KnowledgeBase(
        meta=meta,
        findings=findings,
        specialties=specialties,
        conditions=conditions,
        red_flags=red_flags,
        implies={k: frozenset(v) for k, v in implies.items()},
        implied_by={k: frozenset(v) for k, v in implied_by.items()},
        exclusive_groups=[tuple(g) for g in extra.exclusive_groups],
        base_rates=dict(extra.base_rates),
        phrases={k: tuple(dict.fromkeys(p.lower() for p in v)) for k, v in phrases.items()},
        sources=sorted(
            {c.source for c in conditions} | {r.source for r in red_flags},
        ),
    )


def _closure(edges: dict[str, list[str]]) -> dict[str, set[str]]:
    result: dict[str, set[str]] = {}
    for start in edges:
        seen: set[str] = set()
        stack = list(edges[start])
        while stack:
            node = stack.pop()
            if node in seen or node == start:
                continue
            seen.add(node)
            stack.extend(edges.get(node, []))
        result[start] = seen
    return result


@cache
def knowledge_base() -> KnowledgeBase:
    """The knowledge base shipped with the code, loaded once per process."""
    return load()


def slug_ok(value: str) -> bool:
    return re.fullmatch(ID_PATTERN, value) is not None
