"""Run the symptom-checker vignettes through the triage API with the simulated patient.

    .venv/bin/python bench/triage_eval.py                      # starts its own server (SQLite)
    .venv/bin/python bench/triage_eval.py --url http://127.0.0.1:8000
    .venv/bin/python bench/triage_eval.py --in-process         # engine only, no HTTP (authoring)
    .venv/bin/python bench/triage_eval.py --write-docs         # also update docs/benchmarks.md

Protocol and metrics: carehub/triage/evaluation.py (README section 4 of the vocabulary).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")

from carehub.triage import evaluation  # noqa: E402

DEFAULT_VIGNETTES = ROOT / "bench" / "data" / "triage-vignettes-public.jsonl"


def engine_client():
    from carehub.triage import engine, text
    from carehub.triage.kb import knowledge_base

    kb = knowledge_base()
    sessions: dict[str, dict] = {}

    def shape(sid: str) -> dict:
        s = sessions[sid]
        st = engine.step(
            kb=kb, age=s["age"], sex=s["sex"], initial=s["initial"], answers=s["answers"]
        )
        if st.done:
            return {
                "id": sid,
                "status": "done",
                "question": None,
                "result": engine.result_json(st.result, kb),
            }
        return {
            "id": sid,
            "status": "in_progress",
            "question": engine.question_json(st.question),
            "result": None,
        }

    def start(body: dict) -> dict:
        sid = str(len(sessions) + 1)
        initial = {m.finding: m.present for m in text.extract(body["text"], kb)}
        initial.update({f["id"]: f["present"] for f in body["findings"]})
        sessions[sid] = {"age": body["age"], "sex": body["sex"], "initial": initial, "answers": {}}
        return shape(sid)

    def answer(sid: str, body: dict) -> dict:
        sessions[sid]["answers"][body["finding"]] = body["answer"]
        return shape(sid)

    return start, answer


def http_client(base: str):
    import httpx

    client = httpx.Client(base_url=base, timeout=30)

    def start(body: dict) -> dict:
        r = client.post("/api/v1/triage/sessions/", json=body)
        if r.status_code != 201:
            raise RuntimeError(f"HTTP {r.status_code}: {r.text[:200]}")
        return r.json()

    def answer(sid: str, body: dict) -> dict:
        r = client.post(f"/api/v1/triage/sessions/{sid}/answers/", json=body)
        if r.status_code != 200:
            raise RuntimeError(f"HTTP {r.status_code}: {r.text[:200]}")
        return r.json()

    return start, answer


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--url", help="base URL of a running CareHub")
    parser.add_argument("--in-process", action="store_true", help="call the engine directly")
    parser.add_argument("--vignettes", type=Path, default=DEFAULT_VIGNETTES)
    parser.add_argument("--mode", choices=["text", "structured", "both"], default="both")
    parser.add_argument("--verbose", "-v", action="store_true", help="one line per vignette")
    parser.add_argument("--json", type=Path, help="write the metrics as JSON here")
    args = parser.parse_args()

    specialties = {
        s["code"]
        for s in json.loads((ROOT / "carehub/triage/knowledge/specialties.json").read_text())
    }
    vignettes = evaluation.load_vignettes(args.vignettes)
    if args.in_process:
        import django

        django.setup()
        start, answer = engine_client()
    else:
        start, answer = http_client(args.url)
    modes = ["text", "structured"] if args.mode == "both" else [args.mode]
    report = {}
    for mode in modes:
        runs = [evaluation.play(v, mode, start, answer) for v in vignettes]
        m = evaluation.metrics(runs, specialties)
        if args.verbose:
            for r in runs:
                res = r.result or {}
                conds = ", ".join(c["name"] for c in res.get("conditions", [])[:3])
                mark = "ok " if res.get("triage") == r.vignette["gold_triage"] else "XX "
                print(
                    f"{mark}{r.vignette['id']:8} {mode:10} gold={r.vignette['gold_triage']:9} "
                    f"got={res.get('triage', r.error)!s:9} q={r.answers:2} "
                    f"spec={res.get('specialty')} | {conds}"
                )
        print(f"[{mode}] " + evaluation.summary_line(m))
        for key in (
            "triage_exact",
            "triage_acceptable",
            "emergency_sensitivity",
            "under_triage",
            "over_triage",
            "triage_safe",
            "self_care_sent_to_emergency",
            "triage3_exact",
            "specialty",
            "specialty_exact",
            "dx_top1",
            "dx_top3",
            "dx_top1_strict",
            "dx_top3_strict",
        ):
            print(f"    {key:28} {m[key]}")
        for level, rates in evaluation.per_level(runs).items():
            print(f"    {level:10} exact {rates['exact']}  under {rates['under']}")
        report[mode] = {k: (v.value if isinstance(v, evaluation.Rate) else v) for k, v in m.items()}
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
