"""Vignette evaluation: the simulated-patient protocol and the metrics of the triage README.

Used by `bench/triage_eval.py` (over HTTP for the official numbers; `--in-process` for
knowledge-base authors before they ask for review) and by the regression tests.
A "client" is any callable pair that starts a session and answers a question and returns the
API's JSON, so the same protocol runs over HTTP, the Django test client or the engine directly.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ORDER = {"self_care": 0, "routine": 1, "urgent": 2, "emergency": 3}
TRIAGE3 = {"emergency": "emergent", "urgent": "non-emergent", "routine": "non-emergent",
           "self_care": "self care"}  # fmt: skip
MAX_ANSWERS = 30
GENERIC_WORDS = frozenset(
    [
        "infection",
        "infections",
        "acute",
        "pain",
        "chronic",
        "disease",
        "disorder",
        "syndrome",
        "illness",
        "viral",
        "bacterial",
        "condition",
        "problem",
        "unspecified",
        "other",
        "of",
        "the",
        "and",
        "or",
        "with",
        "without",
        "a",
        "an",
        "in",
        "to",
        "due",
        "left",
        "right",
        "simple",
        "minor",
        "severe",
        "mild",
        "local",
    ]
)


def load_vignettes(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


Start = Callable[[dict[str, Any]], dict[str, Any]]
Answer = Callable[[str, dict[str, Any]], dict[str, Any]]


@dataclass
class Run:
    vignette: dict[str, Any]
    mode: str
    result: dict[str, Any] | None = None
    answers: int = 0
    repeated: int = 0
    error: str | None = None
    latencies: list[float] = field(default_factory=list)


def play(vignette: dict[str, Any], mode: str, start: Start, answer: Answer) -> Run:
    """One session with the simulated patient of the README, section 4."""
    run = Run(vignette=vignette, mode=mode)
    body: dict[str, Any] = {
        "age": vignette["age"],
        "sex": {"M": "male", "F": "female"}[vignette["sex"]],
        "text": vignette["presentation"] if mode == "text" else "",
        "findings": []
        if mode == "text"
        else [{"id": f, "present": True} for f in vignette["initial_findings"]],
    }
    present, absent = set(vignette["findings_present"]), set(vignette["findings_absent"])
    asked: set[str] = set()
    try:
        t0 = time.perf_counter()
        state = start(body)
        run.latencies.append(time.perf_counter() - t0)
        while state.get("status") != "done":
            if run.answers >= MAX_ANSWERS:
                run.error = "gave up after 30 answers"
                return run
            question = state.get("question") or {}
            finding = question.get("finding")
            if not finding:
                run.error = "in progress without a question"
                return run
            if finding in asked:
                run.repeated += 1
            asked.add(finding)
            reply = "yes" if finding in present else "no" if finding in absent else "unknown"
            t0 = time.perf_counter()
            state = answer(state["id"], {"finding": finding, "answer": reply})
            run.latencies.append(time.perf_counter() - t0)
            run.answers += 1
        result = state.get("result")
        problem = _contract_problem(result)
        if problem:
            run.error = problem
        else:
            run.result = result
    except Exception as exc:  # a transport or contract failure scores as an error
        run.error = f"{type(exc).__name__}: {exc}"
    return run


def _contract_problem(result: Any, specialties: set[str] | None = None) -> str | None:
    if not isinstance(result, dict):
        return "done without a result"
    if result.get("triage") not in ORDER:
        return f"invalid triage {result.get('triage')!r}"
    if specialties is not None and result.get("specialty") not in specialties:
        return f"unknown specialty {result.get('specialty')!r}"
    if not isinstance(result.get("conditions"), list):
        return "conditions is not a list"
    if not isinstance(result.get("red_flags"), list) or not isinstance(
        result.get("explanation"), str
    ):
        return "red_flags or explanation missing"
    return None


# --- diagnosis matching (README section 4) -------------------------------------------------


def _words(name: str) -> list[str]:
    text = name.lower().replace("-", " ")
    text = re.sub(r"[^a-z0-9 ]", " ", text)
    out = []
    for word in text.split():
        word = word.replace("haem", "hem").replace("oesophag", "esophag").replace("ae", "e")
        word = re.sub(r"our$", "or", word) if len(word) > 5 else word
        if len(word) > 3 and word.endswith("ies"):
            word = word[:-3] + "y"
        elif len(word) > 3 and word.endswith("es") and not word.endswith("ses"):
            word = word[:-1]
        if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "is", "us")):
            word = word[:-1]
        out.append(word)
    return out


def _contains(haystack: list[str], needle: list[str]) -> bool:
    n = len(needle)
    return n > 0 and any(haystack[i : i + n] == needle for i in range(len(haystack) - n + 1))


def _generic(words: list[str]) -> bool:
    return all(w in GENERIC_WORDS for w in words)


def diagnosis_matches(condition: dict[str, Any], vignette: dict[str, Any], strict: bool) -> bool:
    gold_code = (vignette.get("gold_icd10cm") or "").upper()
    code = str(condition.get("icd10") or "").upper()
    if code and gold_code:
        if strict:

            def head(c: str) -> str:
                return c.split(".")[0] + ("." + c.split(".")[1][:1] if "." in c else "")

            if head(code) == head(gold_code) and ("." in code) == ("." in gold_code):
                return True
        elif code[:3] == gold_code[:3]:
            return True
    name = _words(str(condition.get("name") or ""))
    if not name or _generic(name):
        return False
    accepted = [*vignette.get("acceptable_diagnoses", []), vignette.get("gold_diagnosis", "")]
    for entry in accepted:
        words = _words(entry)
        if not words or _generic(words):
            continue
        if _contains(name, words) or (not strict and _contains(words, name)):
            return True
    return False


# --- metrics ---------------------------------------------------------------------------------


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return (0.0, 0.0)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


@dataclass
class Rate:
    hits: int
    n: int

    @property
    def value(self) -> float:
        return self.hits / self.n if self.n else 0.0

    def __str__(self) -> str:
        lo, hi = wilson(self.hits, self.n)
        return f"{self.value:.2f} [{lo:.2f}-{hi:.2f}] ({self.hits}/{self.n})"


def metrics(runs: Iterable[Run], specialties: set[str]) -> dict[str, Any]:
    runs = list(runs)
    n = len(runs)
    counts: dict[str, int] = dict.fromkeys(
        [
            "triage_exact", "triage_acceptable", "under_triage", "over_triage", "no_result",
            "triage_safe", "triage3_exact", "specialty", "specialty_exact", "dx_top1", "dx_top3",
            "dx_top1_strict", "dx_top3_strict", "errors",
        ],
        0,
    )  # fmt: skip
    emergencies = emergency_hits = self_care = self_care_to_ed = 0
    latencies: list[float] = []
    answers = 0
    repeated = 0
    for run in runs:
        latencies.extend(run.latencies)
        answers += run.answers
        repeated += run.repeated
        v = run.vignette
        gold = v["gold_triage"]
        emergencies += gold == "emergency"
        self_care += gold == "self_care"
        result = run.result
        if result is not None and result.get("specialty") not in specialties:
            run.error = f"unknown specialty {result.get('specialty')!r}"
            result = None
        if result is None:
            counts["no_result"] += 1
            counts["errors"] += 1
            continue
        triage = result["triage"]
        counts["triage_exact"] += triage == gold
        counts["triage_acceptable"] += triage in v["acceptable_triage"]
        counts["under_triage"] += ORDER[triage] < ORDER[gold]
        counts["over_triage"] += ORDER[triage] > ORDER[gold]
        counts["triage_safe"] += ORDER[triage] >= ORDER[gold]
        counts["triage3_exact"] += TRIAGE3[triage] == v["gold_triage_3"]
        emergency_hits += gold == "emergency" and triage == "emergency"
        self_care_to_ed += gold == "self_care" and triage == "emergency"
        counts["specialty"] += result["specialty"] in v["acceptable_specialties"]
        counts["specialty_exact"] += result["specialty"] == v["gold_specialty"]
        conditions = result["conditions"]
        counts["dx_top1"] += any(diagnosis_matches(c, v, False) for c in conditions[:1])
        counts["dx_top3"] += any(diagnosis_matches(c, v, False) for c in conditions[:3])
        counts["dx_top1_strict"] += any(diagnosis_matches(c, v, True) for c in conditions[:1])
        counts["dx_top3_strict"] += any(diagnosis_matches(c, v, True) for c in conditions[:3])
    out: dict[str, Any] = {k: Rate(c, n) for k, c in counts.items() if k != "errors"}
    out["emergency_sensitivity"] = Rate(emergency_hits, emergencies)
    out["self_care_sent_to_emergency"] = Rate(self_care_to_ed, self_care)
    out["errors"] = counts["errors"]
    out["n"] = n
    out["mean_questions"] = answers / n if n else 0.0
    out["repeated_questions"] = repeated
    latencies.sort()
    out["latency_median_ms"] = 1000 * latencies[len(latencies) // 2] if latencies else 0.0
    out["latency_p95_ms"] = (
        1000 * latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))] if latencies else 0.0
    )
    return out


def summary_line(m: dict[str, Any]) -> str:
    keys = ["triage_exact", "emergency_sensitivity", "under_triage", "specialty", "dx_top3"]
    parts = [f"{k}={m[k].value:.2f}" for k in keys]
    parts += [f"n={m['n']}", f"errors={m['errors']}"]
    parts += [f"{k}={m[k].value:.2f}" for k in ("over_triage", "dx_top1", "triage_acceptable")]
    parts += [f"mean_questions={m['mean_questions']:.1f}", f"p95_ms={m['latency_p95_ms']:.1f}"]
    return " ".join(parts)


def per_level(runs: list[Run]) -> dict[str, dict[str, Rate]]:
    out: dict[str, dict[str, Rate]] = {}
    for level in ("emergency", "urgent", "routine", "self_care"):
        subset = [r for r in runs if r.vignette["gold_triage"] == level]
        exact = sum(1 for r in subset if r.result and r.result["triage"] == level)
        under = sum(
            1 for r in subset if r.result is None or ORDER[r.result["triage"]] < ORDER[level]
        )
        out[level] = {"exact": Rate(exact, len(subset)), "under": Rate(under, len(subset))}
    return out


def engine_client(kb: Any = None) -> tuple[Start, Answer]:
    """The API's session protocol run on the engine directly (no HTTP, no database): for
    knowledge-base authors and the regression tests."""
    from carehub.triage import engine, text
    from carehub.triage.kb import knowledge_base

    kb = kb or knowledge_base()
    sessions: dict[str, dict[str, Any]] = {}

    def shape(sid: str) -> dict[str, Any]:
        s = sessions[sid]
        step = engine.step(
            kb=kb, age=s["age"], sex=s["sex"], initial=s["initial"], answers=s["answers"]
        )
        if step.result is not None:
            return {"id": sid, "status": "done", "question": None,
                    "result": engine.result_json(step.result, kb)}  # fmt: skip
        assert step.question is not None
        return {"id": sid, "status": "in_progress", "result": None,
                "question": engine.question_json(step.question)}  # fmt: skip

    def start(body: dict[str, Any]) -> dict[str, Any]:
        sid = str(len(sessions) + 1)
        initial = {m.finding: m.present for m in text.extract(body["text"], kb)}
        initial.update({f["id"]: f["present"] for f in body["findings"]})
        sessions[sid] = {"age": body["age"], "sex": body["sex"], "initial": initial, "answers": {}}
        return shape(sid)

    def answer(sid: str, body: dict[str, Any]) -> dict[str, Any]:
        sessions[sid]["answers"][body["finding"]] = body["answer"]
        return shape(sid)

    return start, answer
