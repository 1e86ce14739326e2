"""The interview engine: pure functions over a knowledge base and the answers so far.

Model: a noisy naive-Bayes over mutually exclusive conditions. Each condition has a prior from
its prevalence and P(finding | condition) for the findings it lists; a finding it does not list
has a small "leak" probability. Questions are chosen by expected information gain, on the
conditions and on the triage level, plus a bonus for findings that would complete a red flag or
raise a likely condition's urgency, so that safety questions come first. The interview stops on
an emergency red flag, when the leading condition and the urgency are both clear, when no
question is worth asking, or after `engine.max_questions`.

Nothing here touches the database; `services.py` stores sessions and calls `step()`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache

import numpy as np

from carehub.triage.kb import LEVEL_RANK, LEVELS, PREVALENCE, Criteria, KnowledgeBase

YES, NO, UNKNOWN = "yes", "no", "unknown"
LEVEL_WEIGHT = {"emergency": 1.0, "urgent": 0.5, "routine": 0.15, "self_care": 0.0}
CATEGORY_WHY = {
    "general": "How your body is coping overall helps us judge how urgent this is.",
    "course": "How long this has gone on and how it is changing helps us judge urgency.",
    "neuro": "Changes in how the brain and nerves work can be a sign that needs quick help.",
    "eyes": "Some eye symptoms need the same-day attention of an eye specialist.",
    "ent": "This helps tell apart the causes of ear, nose, throat and mouth symptoms.",
    "breathing": "How you are breathing tells us how hard your lungs are working.",
    "heart_circulation": "This helps rule out heart and circulation problems that need help fast.",
    "digestive": "This helps tell apart the causes of tummy symptoms.",
    "urinary": "This helps tell apart bladder and kidney problems.",
    "reproductive": "This helps tell apart causes that need a different kind of care.",
    "musculoskeletal": "This helps tell apart strains from problems that need treatment.",
    "skin": "The look of a rash or skin change helps tell its causes apart.",
    "mental_health": "How you are feeling matters, and some answers mean we should help quickly.",
    "child": "In babies and young children some signs need to be seen quickly.",
    "metabolic": "Sugar readings help us spot problems that need treatment.",
    "history": "Your health background changes which causes are likely.",
}


@dataclass(frozen=True)
class Question:
    finding: str
    text: str
    why: str


@dataclass(frozen=True)
class ConditionScore:
    id: str
    name: str
    icd10: str
    score: float
    specialty: str
    level: str


@dataclass(frozen=True)
class Result:
    triage: str
    specialty: str
    conditions: list[ConditionScore]
    red_flags: list[str]
    explanation: str
    advice: str
    reasons: list[str]


@dataclass(frozen=True)
class Step:
    question: Question | None
    result: Result | None

    @property
    def done(self) -> bool:
        return self.result is not None


@dataclass
class Compiled:
    """Matrices for fast scoring, built once per knowledge base."""

    kb: KnowledgeBase
    finding_ids: list[str]
    index: dict[str, int]
    likelihood: np.ndarray  # conditions x findings: P(reported | condition)
    log_yes: np.ndarray
    log_no: np.ndarray
    log_prior: np.ndarray
    askable: np.ndarray  # bool per finding: mentioned by some condition or rule
    base_level: np.ndarray  # rank per condition
    condition_findings: list[set[str]] = field(default_factory=list)


@cache
def _compile(kb: KnowledgeBase) -> Compiled:
    finding_ids = list(kb.findings)
    index = {f: i for i, f in enumerate(finding_ids)}
    leak = kb.meta.engine.leak
    base = np.array([kb.base_rates.get(f, leak) for f in finding_ids])
    matrix = np.tile(base, (len(kb.conditions), 1))
    mentioned = np.zeros(len(finding_ids), dtype=bool)
    condition_findings = []
    for c, condition in enumerate(kb.conditions):
        for fid, p in condition.findings.items():
            matrix[c, index[fid]] = max(p, 1e-3)
            mentioned[index[fid]] = True
        condition_findings.append(set(condition.findings))
        for rule in condition.escalate:
            for fid in rule.finding_ids():
                mentioned[index[fid]] = True
    for flag in kb.red_flags:
        for fid in flag.finding_ids():
            mentioned[index[fid]] = True
    matrix = np.clip(matrix, 1e-3, 1 - 1e-3)
    return Compiled(
        kb=kb,
        finding_ids=finding_ids,
        index=index,
        likelihood=matrix,
        log_yes=np.log(matrix),
        log_no=np.log1p(-matrix),
        log_prior=np.log([PREVALENCE[c.prevalence] for c in kb.conditions]),
        askable=mentioned,
        base_level=np.array([LEVEL_RANK[c.triage] for c in kb.conditions]),
        condition_findings=condition_findings,
    )


def compiled(kb: KnowledgeBase) -> Compiled:
    return _compile(kb)


def derive(answers: Mapping[str, str], kb: KnowledgeBase) -> dict[str, bool]:
    """What the answers mean for every finding, with implications and exclusive groups.

    An explicit answer always wins over a derived one."""
    known: dict[str, bool] = {}
    for fid, answer in answers.items():
        if answer == YES:
            for implied in kb.implies.get(fid, ()):
                known.setdefault(implied, True)
            for group in kb.exclusive_groups:
                if fid in group:
                    for other in group:
                        if other != fid:
                            known.setdefault(other, False)
        elif answer == NO:
            for specific in kb.implied_by.get(fid, ()):
                known.setdefault(specific, False)
    for fid, answer in answers.items():
        if answer in (YES, NO):
            known[fid] = answer == YES
    return known


def _fits(rule: Criteria, age: float, sex: str) -> bool:
    """The patient is within the rule's age and sex limits."""
    return (
        (rule.age_min is None or age >= rule.age_min)
        and (rule.age_max is None or age <= rule.age_max)
        and (rule.sex is None or rule.sex == sex)
    )


def _applies(rule: Criteria, known: Mapping[str, bool], age: float, sex: str) -> bool:
    if not _fits(rule, age, sex):
        return False
    if any(known.get(f) is not True for f in rule.all_of):
        return False
    if rule.any_of and not any(known.get(f) is True for f in rule.any_of):
        return False
    return not any(known.get(f) is True for f in rule.none_of)


def _missing(rule: Criteria, known: Mapping[str, bool], age: float, sex: str) -> list[str] | None:
    """The findings that would each complete `rule` if it lacks exactly one piece, else None."""
    if not _fits(rule, age, sex) or any(known.get(f) is True for f in rule.none_of):
        return None
    if any(known.get(f) is False for f in rule.all_of):
        return None
    missing_all = [f for f in rule.all_of if known.get(f) is not True]
    any_done = not rule.any_of or any(known.get(f) is True for f in rule.any_of)
    open_any = [f for f in rule.any_of if f not in known]
    if len(missing_all) == 1 and any_done:
        return missing_all
    if not missing_all and not any_done:
        return open_any or None
    return None


@dataclass
class _State:
    posterior: np.ndarray
    levels: np.ndarray  # rank per condition after escalations
    eligible: np.ndarray
    reasons: dict[int, str]


def _state(comp: Compiled, known: Mapping[str, bool], age: float, sex: str) -> _State:
    kb = comp.kb
    score = comp.log_prior.copy()
    eligible = np.ones(len(kb.conditions), dtype=bool)
    for c, condition in enumerate(kb.conditions):
        if (
            not (condition.age_min <= age <= condition.age_max)
            or condition.sex
            not in (
                "any",
                sex,
            )
            or (
                condition.requires_any
                and all(known.get(f) is False for f in condition.requires_any)
            )
        ):
            eligible[c] = False
    present = [comp.index[f] for f, v in known.items() if v]
    absent = [comp.index[f] for f, v in known.items() if not v]
    if present:
        score += comp.log_yes[:, present].sum(axis=1)
    if absent:
        score += comp.log_no[:, absent].sum(axis=1)
    score = np.where(eligible, score, -np.inf)
    if not eligible.any():
        posterior = np.zeros(len(score))
    else:
        posterior = np.exp(score - score.max())
        posterior /= posterior.sum()
    levels = comp.base_level.copy()
    reasons: dict[int, str] = {}
    for c, condition in enumerate(kb.conditions):
        if posterior[c] < 1e-4:
            continue
        for rule in condition.escalate:
            rank = LEVEL_RANK[rule.level]
            if rank > levels[c] and _applies(rule, known, age, sex):
                levels[c] = rank
                reasons[c] = rule.reason
    return _State(posterior=posterior, levels=levels, eligible=eligible, reasons=reasons)


def _entropy(p: np.ndarray, axis: int = 0) -> np.ndarray:
    safe = np.where(p > 0, p, 1.0)
    return -(p * np.log2(safe)).sum(axis=axis)


def fired_red_flags(kb: KnowledgeBase, known: Mapping[str, bool], age: float, sex: str):
    return [rule for rule in kb.red_flags if _applies(rule, known, age, sex)]


def step(
    *,
    kb: KnowledgeBase,
    age: float,
    sex: str,
    initial: Mapping[str, bool],
    answers: Mapping[str, str],
) -> Step:
    """The next question, or the result when the interview is over.

    `initial` holds what the patient gave up front (chosen findings and free text), `answers`
    the replies to the engine's questions, in order ("yes", "no" or "unknown")."""
    comp = compiled(kb)
    combined: dict[str, str] = {f: (YES if v else NO) for f, v in initial.items()}
    combined.update(answers)
    known = derive(combined, kb)
    flags = fired_red_flags(kb, known, age, sex)
    state = _state(comp, known, age, sex)
    if any(rule.level == "emergency" for rule in flags):
        return Step(None, _result(comp, state, known, flags, age))
    question = _best_question(comp, state, known, combined, age, sex, len(answers))
    if question is None:
        return Step(None, _result(comp, state, known, flags, age))
    finding = kb.findings[question]
    why = finding.why or CATEGORY_WHY.get(finding.category, "")
    return Step(Question(finding=question, text=finding.question, why=why), None)


def _best_question(
    comp: Compiled,
    state: _State,
    known: Mapping[str, bool],
    answers: Mapping[str, str],
    age: float,
    sex: str,
    asked_count: int,
) -> str | None:
    settings = comp.kb.meta.engine
    if asked_count >= settings.max_questions:
        return None
    post = state.posterior
    if post.sum() == 0:
        return None
    candidates = comp.askable.copy()
    for fid in list(known) + list(answers):
        candidates[comp.index[fid]] = False
    if not candidates.any():
        return None
    cols = np.flatnonzero(candidates)
    lik = comp.likelihood[:, cols]
    joint_yes = post[:, None] * lik
    p_yes = joint_yes.sum(axis=0)
    joint_no = post[:, None] - joint_yes
    p_no = 1 - p_yes
    h_now = _entropy(post)
    h_yes = _entropy(joint_yes / np.maximum(p_yes, 1e-12), axis=0)
    h_no = _entropy(joint_no / np.maximum(p_no, 1e-12), axis=0)
    gain = h_now - (p_yes * h_yes + p_no * h_no)
    one_hot = np.zeros((len(post), len(LEVELS)))
    one_hot[np.arange(len(post)), state.levels] = 1
    level_yes = (joint_yes.T @ one_hot) / np.maximum(p_yes, 1e-12)[:, None]
    level_no = (joint_no.T @ one_hot) / np.maximum(p_no, 1e-12)[:, None]
    level_now = post @ one_hot
    t_gain = _entropy(level_now) - (
        p_yes * _entropy(level_yes, axis=1) + p_no * _entropy(level_no, axis=1)
    )
    value = gain + settings.triage_weight * t_gain
    bonus = np.zeros(len(cols))
    col_of = {comp.finding_ids[c]: k for k, c in enumerate(cols)}
    for rule in comp.kb.red_flags:
        missing = _missing(rule, known, age, sex)
        if not missing:
            continue
        progress = 1.0 if (len(rule.all_of) + bool(rule.any_of)) > 1 else 0.0
        for fid in missing:
            k = col_of.get(fid)
            if k is not None:
                candidate = LEVEL_WEIGHT[rule.level] * (0.4 * progress + p_yes[k])
                bonus[k] = max(bonus[k], candidate)
    for c in np.flatnonzero(post > 0.02):
        condition = comp.kb.conditions[c]
        for escalation in condition.escalate:
            if LEVEL_RANK[escalation.level] <= state.levels[c]:
                continue
            for fid in _missing(escalation, known, age, sex) or ():
                k = col_of.get(fid)
                if k is not None:
                    bonus[k] = max(bonus[k], LEVEL_WEIGHT[escalation.level] * post[c])
    # The findings that tell the likely conditions apart ("discriminating" in the knowledge
    # base) are worth asking even when the rest of the model is unsure about them.
    telling = np.zeros(len(cols))
    if settings.discriminating_bonus:
        for c in np.flatnonzero(post > 0.05):
            for fid in comp.kb.conditions[c].discriminating:
                k = col_of.get(fid)
                if k is not None:
                    telling[k] = max(telling[k], post[c])
    value = value + settings.red_flag_bonus * bonus + settings.discriminating_bonus * telling
    best = int(np.argmax(value))
    top = float(post.max())
    level_confidence = float(level_now.max())
    if value[best] < settings.min_information_gain:
        return None
    if (
        asked_count >= 2
        and top >= settings.stop_confidence
        and level_confidence >= settings.stop_triage_confidence
        and bonus[best] < 0.3
    ):
        return None
    return comp.finding_ids[cols[best]]


def _decide(comp: Compiled, state: _State) -> tuple[str, list[tuple[float, int]]]:
    thresholds = comp.kb.meta.engine.thresholds
    post = state.posterior
    for level in ("emergency", "urgent", "routine"):
        rank = LEVEL_RANK[level]
        mass = float(post[state.levels >= rank].sum())
        if mass >= thresholds[level]:
            return level, []
    return "self_care", []


def _result(
    comp: Compiled,
    state: _State,
    known: Mapping[str, bool],
    flags: list,
    age: float,
) -> Result:
    kb = comp.kb
    settings = kb.meta.engine
    post = state.posterior
    triage, _ = _decide(comp, state)
    reasons: list[str] = []
    forced = max(flags, key=lambda r: LEVEL_RANK[r.level], default=None)
    ranked = [int(c) for c in np.argsort(-post) if post[c] > 0]
    if forced is not None and forced.level == "emergency":
        # A danger sign ended the interview early: list first the likely causes that are
        # themselves emergencies, so the explanation names what must be ruled out.
        serious = [c for c in ranked if state.levels[c] == LEVEL_RANK["emergency"]]
        ranked = serious[:3] + [c for c in ranked if c not in serious[:3]]
    order = ranked[:5]
    if forced is not None and LEVEL_RANK[forced.level] > LEVEL_RANK[triage]:
        triage = forced.level
    for rule in flags:
        reasons.append(rule.label)
    conditions = []
    for c in order:
        condition = kb.conditions[c]
        specialty = condition.specialty
        if age < settings.child_age and condition.specialty_child:
            specialty = condition.specialty_child
        conditions.append(
            ConditionScore(
                id=condition.id,
                name=condition.name,
                icd10=condition.icd10,
                score=round(float(post[c]), 3),
                specialty=specialty,
                level=LEVELS[int(state.levels[c])],
            )
        )
    specialty = conditions[0].specialty if conditions else "general_practice"
    if triage == "emergency" and (not conditions or conditions[0].level != "emergency"):
        # Sent to the emergency department for a danger sign the leading condition does not
        # explain: that department is the specialty to see.
        specialty = "emergency_medicine"
    if conditions and order[0] in state.reasons and not flags:
        reasons.append(state.reasons[order[0]])
    explanation = _explain(comp, known, order, triage, reasons)
    if forced is not None and forced.level == triage:
        advice = forced.advice
    elif conditions:
        # The advice must match the level given: when the risk of a less likely but more
        # serious cause set the level, advise as for that cause.
        matching = [c for c in ranked if LEVELS[int(state.levels[c])] == triage]
        advice = kb.conditions[matching[0] if matching else order[0]].advice
    else:
        advice = "Please speak to a doctor or nurse about your symptoms."
    return Result(
        triage=triage,
        specialty=specialty,
        conditions=conditions,
        red_flags=sorted({f for rule in flags for f in rule.finding_ids() if known.get(f)}),
        explanation=explanation,
        advice=advice,
        reasons=reasons,
    )


LEVEL_TEXT = {
    "emergency": "This needs emergency care now",
    "urgent": "You should be seen by a doctor today",
    "routine": "Book an ordinary appointment",
    "self_care": "This can usually be looked after at home",
}


def _explain(
    comp: Compiled, known: Mapping[str, bool], order: list[int], triage: str, reasons: list[str]
) -> str:
    kb = comp.kb
    parts = [LEVEL_TEXT[triage]]
    if reasons:
        parts[0] += " because of: " + "; ".join(reasons) + "."
    else:
        parts[0] += "."
    if order:
        condition = kb.conditions[order[0]]
        supporting = [
            kb.findings[f].label.lower()
            for f in sorted(
                (f for f in condition.findings if known.get(f)),
                key=lambda f: (f not in condition.discriminating, -condition.findings[f]),
            )
        ][:4]
        against = [
            kb.findings[f].label.lower() for f in condition.discriminating if known.get(f) is False
        ][:2]
        sentence = f"The most likely cause is {condition.name}"
        if supporting:
            sentence += ", because you reported " + ", ".join(supporting)
        if against:
            sentence += " (although not " + " or ".join(against) + ")"
        parts.append(sentence + ".")
    parts.append("This is not a diagnosis; a clinician will confirm it.")
    return " ".join(parts)


def result_json(result: Result, kb: KnowledgeBase) -> dict:
    """The API's RESULT object (see docs/triage.md), plus the knowledge base's provenance."""
    return {
        "triage": result.triage,
        "specialty": result.specialty,
        "conditions": [
            {"name": c.name, "icd10": c.icd10, "score": c.score} for c in result.conditions
        ],
        "red_flags": result.red_flags,
        "explanation": result.explanation,
        "advice": result.advice,
        "knowledge_base": {
            "version": kb.meta.version,
            "author": kb.meta.author,
            "reviewer": kb.meta.reviewer,
        },
    }


def question_json(question: Question) -> dict:
    return {"id": question.finding, "text": question.text, "finding": question.finding,
            "why": question.why}  # fmt: skip
