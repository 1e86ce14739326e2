"""Run the symptom-checker vignettes through the triage API with the simulated patient.

    .venv/bin/python bench/triage_eval.py                      # starts its own server (SQLite)
    .venv/bin/python bench/triage_eval.py --url http://127.0.0.1:8000
    .venv/bin/python bench/triage_eval.py --in-process         # engine only, no HTTP (authoring)
    .venv/bin/python bench/triage_eval.py --write-docs         # also update docs/benchmarks.md

Protocol and metrics: carehub/triage/evaluation.py (README section 4 of the vocabulary).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")

from carehub.triage import evaluation  # noqa: E402

DEFAULT_VIGNETTES = ROOT / "bench" / "data" / "triage-vignettes-public.jsonl"


def http_client(base: str):
    """JSON over HTTP with the standard library; any status but the contract's is an error."""
    import urllib.error
    import urllib.request

    def post(path: str, body: dict, expected: int) -> dict:
        request = urllib.request.Request(
            base + path,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Accept": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, payload = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, payload = exc.code, exc.read()
        if status != expected:
            raise RuntimeError(f"HTTP {status}: {payload[:200]!r}")
        return json.loads(payload)

    def start(body: dict) -> dict:
        return post("/api/v1/triage/sessions/", body, 201)

    def answer(sid: str, body: dict) -> dict:
        return post(f"/api/v1/triage/sessions/{sid}/answers/", body, 200)

    return start, answer


@contextlib.contextmanager
def own_server(workers: int):
    """A throwaway CareHub (temporary var dir, SQLite, fresh keys) under gunicorn, as
    `make run` serves it."""
    import socket
    import subprocess
    import tempfile
    import time
    import urllib.request

    tmp = Path(tempfile.mkdtemp(prefix="carehub-triage-eval-"))
    env = dict(
        os.environ,
        CAREHUB_VAR_DIR=str(tmp / "var"),
        DJANGO_SETTINGS_MODULE="config.settings.dev",
        DJANGO_DEBUG="0",
    )
    env.pop("DATABASE_URL", None)
    py = str(ROOT / ".venv" / "bin" / "python")
    log = open(tmp / "server.log", "ab")  # noqa: SIM115 - the server writes to it until the end
    for argv in (
        ["init_keys"],
        ["migrate", "--noinput", "-v0"],
        ["collectstatic", "--noinput", "-v0"],
    ):
        subprocess.run(
            [py, "manage.py", *argv], cwd=ROOT, env=env, check=True, stdout=log, stderr=log
        )
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            "config.wsgi",
            "--config",
            "config/gunicorn.conf.py",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=log,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                with urllib.request.urlopen(url + "/api/v1/triage/findings/", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.2)
        else:
            raise SystemExit(f"server did not start; see {tmp / 'server.log'}")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


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
    parser.add_argument("--write-docs", action="store_true", help="update docs/benchmarks.md")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers of the own server")
    args = parser.parse_args()

    specialties = {
        s["code"]
        for s in json.loads((ROOT / "carehub/triage/knowledge/specialties.json").read_text())
    }
    vignettes = evaluation.load_vignettes(args.vignettes)
    with contextlib.ExitStack() as stack:
        if args.in_process:
            import django

            django.setup()
            start, answer = evaluation.engine_client()
        else:
            url = args.url or stack.enter_context(own_server(args.workers))
            print(f"server: {url}")
            start, answer = http_client(url)
        return run(args, vignettes, specialties, start, answer)


def run(args, vignettes, specialties, start, answer) -> int:
    modes = ["text", "structured"] if args.mode == "both" else [args.mode]
    report = {}
    tables: dict[str, dict] = {}
    for mode in modes:
        runs = [evaluation.play(v, mode, start, answer) for v in vignettes]
        m = evaluation.metrics(runs, specialties)
        tables[mode] = {"metrics": m, "levels": evaluation.per_level(runs)}
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
    if args.write_docs:
        write_docs(args, tables)
    return 0


KEYS = ("triage_exact", "triage_acceptable", "emergency_sensitivity", "under_triage",
        "over_triage", "triage_safe", "self_care_sent_to_emergency", "triage3_exact", "specialty",
        "specialty_exact", "dx_top1", "dx_top3", "dx_top1_strict", "dx_top3_strict")  # fmt: skip
TARGETS = {"triage_exact": ">= 0.85", "emergency_sensitivity": "1.00", "under_triage": "<= 0.05",
           "specialty": ">= 0.85", "dx_top3": ">= 0.70"}  # fmt: skip


def write_docs(args, tables: dict[str, dict]) -> None:
    """Replace this vignette file's part of the symptom-checker section of docs/benchmarks.md."""
    stem = args.vignettes.stem
    begin, end = f"<!-- triage-eval:{stem}:begin -->", f"<!-- triage-eval:{stem}:end -->"
    import datetime
    import subprocess

    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "carehub", "bench"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.strip()
    modes = list(tables)
    how = (
        "in process (engine only)"
        if args.in_process
        else (
            f"over HTTP against {args.url}"
            if args.url
            else f"over HTTP against its own gunicorn server ({args.workers} workers, SQLite)"
        )
    )
    lines = [
        begin,
        f"### `{args.vignettes.name}`",
        "",
        f"Run {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, commit "
        f"`{commit}`{' (with uncommitted changes)' if dirty else ''}, {how}, on "
        f"`{args.vignettes.resolve().relative_to(ROOT)}` "
        f"({tables[modes[0]]['metrics']['n']} vignettes).",
        "",
        "Command: `.venv/bin/python bench/triage_eval.py"
        + (" --in-process" if args.in_process else "")
        + " --write-docs`",
        "",
        "| Metric | Target | " + " | ".join(modes) + " |",
        "|---|---|" + "---|" * len(modes),
    ]
    for key in KEYS:
        lines.append(
            f"| {key} | {TARGETS.get(key, '')} | "
            + " | ".join(str(tables[m]["metrics"][key]) for m in modes)
            + " |"
        )
    for key, label in (
        ("mean_questions", "mean questions"),
        ("repeated_questions", "repeated questions"),
        ("errors", "errors"),
        ("latency_median_ms", "latency median (ms)"),
        ("latency_p95_ms", "latency p95 (ms)"),
    ):
        target = "< 50" if key == "latency_p95_ms" else ""
        values = [tables[m]["metrics"][key] for m in modes]
        lines.append(
            f"| {label} | {target} | "
            + " | ".join(f"{v:.1f}" if isinstance(v, float) else str(v) for v in values)
            + " |"
        )
    lines += ["", "Per gold triage level (exact / under-triaged):", ""]
    for m in modes:
        parts = [f"{lvl} {r['exact']} / {r['under']}" for lvl, r in tables[m]["levels"].items()]
        lines.append(f"* {m}: " + "; ".join(parts))
    lines += ["", "Rates are shown as value [Wilson 95% interval] (hits/n).", "", end]
    doc = ROOT / "docs" / "benchmarks.md"
    text = doc.read_text()
    block = "\n".join(lines)
    if begin in text:
        text = text[: text.index(begin)] + block + text[text.index(end) + len(end) :]
    elif "## Symptom checker" in text:
        text = text.rstrip() + "\n\n" + block + "\n"
    else:
        text = text.rstrip() + "\n\n## Symptom checker\n\n" + block + "\n"
    doc.write_text(text)
    print(f"wrote {doc.relative_to(ROOT)}")


if __name__ == "__main__":
    sys.exit(main())
