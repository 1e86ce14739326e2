"""CareHub benchmark: sign-in, token issue and each role's home page under locust, on SQLite
and PostgreSQL; results into docs/benchmarks.md.

  .venv/bin/python bench/run.py [--db sqlite|postgres|both] [--users 20] [--duration 60s] ...
  make bench ARGS="--db sqlite"

For each database, in a fresh temporary CAREHUB_VAR_DIR (the developer's var/ is not touched):
manage.py init_keys, migrate, collectstatic, seed_demo; then gunicorn (config.wsgi, like
scripts/run.sh: 2 workers x 4 threads, access log off) and manage.py run_worker, and three
headless locust runs (bench/locustfile.py):

  A   pages: --users users sign in once (staff with TOTP), then each loads its role's home page
      with a think time (default uniform 0.5-1.5 s): the run the 50 ms p95 target is judged on;
  A0  the same with no think time: the capacity (requests/s) and latency when saturated;
  B   sign-in (patients, staff with TOTP) and token issue in a loop, paced under the product's
      rate limits: these requests check an scrypt password hash, deliberately slow.

Then, without load, bench/profile_pages.py measures each page in-process (SQL queries, time)
and a micro-benchmark times the password hasher. PostgreSQL runs inside
scripts/with-postgres.sh (a throwaway cluster): this script re-invokes itself under it.

Exits non-zero if a database could not be prepared or served, or if more than 1 % of the
requests of a run failed (non-2xx, or a redirect that is not the expected next step).
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import platform
import re
import resource
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = ROOT / ".venv" / "bin" / "python"
BIN = ROOT / ".venv" / "bin"
LOCUSTFILE = ROOT / "bench" / "locustfile.py"
TARGET_MS = 50.0
MAX_FAILURE_RATE = 0.01
RATE_LIMIT_WINDOW = 61.0  # allauth "login" and DRF "token" limits count the last 60 s
CLK_TCK = os.sysconf("SC_CLK_TCK")


def say(*parts: object) -> None:
    print("bench:", *parts, flush=True)


def parse_duration(text: str) -> float:
    match = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s?)?", text.strip())
    if not match or not any(match.groups()):
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 60s, 2m, 1m30s)")
    h, m, s = (int(g or 0) for g in match.groups())
    return float(h * 3600 + m * 60 + s)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- CPU accounting (to show what the load generator itself costs on this 2-core machine) -------
def _proc_stat(pid: int) -> tuple[int, str, float] | None:
    """(ppid, comm, cpu seconds) of a live process."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    comm = raw[raw.index("(") + 1 : raw.rindex(")")]
    fields = raw[raw.rindex(")") + 2 :].split()
    return int(fields[1]), comm, (int(fields[11]) + int(fields[12])) / CLK_TCK


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy (all processes), from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / CLK_TCK


def cpu_snapshot(gunicorn_pid: int, worker_pid: int) -> dict[str, float]:
    """CPU seconds used so far by gunicorn (master + workers), the job worker and PostgreSQL,
    and by the whole machine."""
    totals = {
        "gunicorn": 0.0,
        "job worker": 0.0,
        "postgres": 0.0,
        "machine": machine_busy_seconds(),
    }
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        stat = _proc_stat(int(entry.name))
        if stat is None:
            continue
        ppid, comm, cpu = stat
        pid = int(entry.name)
        if pid == gunicorn_pid or ppid == gunicorn_pid:
            totals["gunicorn"] += cpu
            if ppid == gunicorn_pid:
                totals[f"gunicorn worker pid {pid}"] = cpu
        elif pid == worker_pid:
            totals["job worker"] += cpu
        elif comm.startswith("postgres"):
            totals["postgres"] += cpu
    return totals


# --- locust results -----------------------------------------------------------------------------
def _num(value: str) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def read_stats(prefix: Path) -> dict:
    rows = []
    with open(f"{prefix}_stats.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            rows.append(
                {
                    "name": row["Name"] if row["Name"] != "Aggregated" else "Aggregated",
                    "method": row["Type"],
                    "count": int(row["Request Count"]),
                    "failures": int(row["Failure Count"]),
                    "rps": _num(row["Requests/s"]) or 0.0,
                    "p50": _num(row["50%"]),
                    "p95": _num(row["95%"]),
                    "p99": _num(row["99%"]),
                    "max": _num(row["Max Response Time"]),
                    "avg": _num(row["Average Response Time"]),
                }
            )
    failures = []
    failures_csv = Path(f"{prefix}_failures.csv")
    if failures_csv.exists():
        with open(failures_csv, newline="") as fh:
            for row in csv.DictReader(fh):
                failures.append(
                    {
                        "name": row["Name"],
                        "error": row["Error"][:300],
                        "occurrences": int(row["Occurrences"]),
                    }
                )
    return {"rows": rows, "failures": failures}


# --- one database: prepare, serve, load ---------------------------------------------------------
class Session:
    def __init__(self, db: str, args: argparse.Namespace) -> None:
        self.db = db
        self.args = args
        self.tmp = Path(tempfile.mkdtemp(prefix=f"carehub-bench-{db}-"))
        self.var = self.tmp / "var"
        self.env = dict(os.environ)
        self.env.update(
            CAREHUB_VAR_DIR=str(self.var),
            DJANGO_SETTINGS_MODULE="config.settings.dev",
            DJANGO_DEBUG="0",
            PYTHONUNBUFFERED="1",
        )
        if db == "sqlite":
            self.env.pop("DATABASE_URL", None)
        elif not self.env.get("DATABASE_URL", "").startswith("postgres"):
            raise SystemExit("bench: postgres session without DATABASE_URL (use --db postgres)")
        self.procs: list[subprocess.Popen] = []
        self.result: dict = {"db": db, "steps": {}, "runs": {}}
        self.last_login_burst = 0.0

    def log(self, name: str):
        return open(self.tmp / f"{name}.log", "ab")

    def manage(self, *argv: str) -> None:
        start = time.monotonic()
        with self.log("prepare") as out:
            rc = subprocess.call(
                [str(PY), "manage.py", *argv], cwd=ROOT, env=self.env, stdout=out, stderr=out
            )
        took = time.monotonic() - start
        self.result["steps"][argv[0]] = round(took, 1)
        if rc != 0:
            tail = (self.tmp / "prepare.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"manage.py {' '.join(argv)} failed ({rc}):\n{tail}")
        say(f"[{self.db}] manage.py {' '.join(argv)}: {took:.1f} s")

    def prepare(self) -> None:
        self.var.mkdir(parents=True)
        self.manage("init_keys")
        self.manage("migrate", "--noinput", "-v0")
        self.manage("collectstatic", "--noinput", "-v0")
        self.manage("seed_demo")
        self.credentials = self.var / "demo-credentials.json"

    def start(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        worker = subprocess.Popen(
            [str(PY), "manage.py", "run_worker"],
            cwd=ROOT,
            env=self.env,
            stdout=self.log("worker"),
            stderr=subprocess.STDOUT,
        )
        self.procs.append(worker)
        self.worker_pid = worker.pid
        self.gunicorn_cmd = [
            str(BIN / "gunicorn"),
            "config.wsgi",
            "--config",
            "config/gunicorn.conf.py",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(self.args.workers),
            "--threads",
            str(self.args.threads),
            "--error-logfile",
            str(self.tmp / "gunicorn.log"),
        ]  # no --access-logfile: access log off
        gunicorn = subprocess.Popen(
            self.gunicorn_cmd,
            cwd=ROOT,
            env=self.env,
            stdout=self.log("gunicorn-out"),
            stderr=subprocess.STDOUT,
        )
        self.procs.append(gunicorn)
        self.gunicorn_pid = gunicorn.pid
        self.wait_ready()

    def _get(self, path: str) -> int:
        try:
            with urllib.request.urlopen(self.url + path, timeout=5) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code
        except (urllib.error.URLError, OSError):
            return 0

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 90
        health = 0
        while time.monotonic() < deadline:
            for proc in self.procs:
                if proc.poll() is not None:
                    tail = (self.tmp / "gunicorn.log").read_text(errors="replace")[-3000:]
                    raise RuntimeError(f"{proc.args[:3]} exited ({proc.returncode}):\n{tail}")
            health = self._get("/health/")
            if health == 200:
                say(f"[{self.db}] gunicorn on {self.url}: /health/ 200")
                return
            time.sleep(0.5)
        if health == 503 and self._get("/accounts/login/") == 200:
            say(f"[{self.db}] WARNING: /health/ still 503 (worker?); /accounts/login/ answers")
            return
        raise RuntimeError(f"server not ready on {self.url} (/health/ said {health})")

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs = []

    def busy_others(self, seconds: float = 2.0) -> float:
        """% of one core that processes other than this benchmark's keep busy right now."""
        before = cpu_snapshot(self.gunicorn_pid, self.worker_pid)
        time.sleep(seconds)
        after = cpu_snapshot(self.gunicorn_pid, self.worker_pid)
        delta = {k: after[k] - before[k] for k in after}
        ours = delta["gunicorn"] + delta["job worker"] + delta["postgres"]
        return 100 * max(0.0, delta["machine"] - ours) / seconds

    def wait_quiet(self) -> None:
        """The machine may be shared (other people's tests): wait up to --quiet-wait seconds for
        other processes to use less than a quarter of a core, and record what they used."""
        deadline = time.monotonic() + self.args.quiet_wait
        busy = self.busy_others()
        while busy > 25 and time.monotonic() < deadline:
            say(f"[{self.db}] other processes busy ({busy:.0f} % of a core); waiting")
            time.sleep(5)
            busy = self.busy_others()
        self.others_before = round(busy)

    # --- locust -----------------------------------------------------------------------------
    def locust(self, run: str, user_class: str, users: int, think: float, title: str) -> None:
        """One locust run, repeated (up to --retries times) while other processes on the machine
        took more than --max-other % of its CPU during it; the least disturbed attempt is kept."""
        kept: dict | None = None
        for attempt in range(1, self.args.retries + 2):
            stats = self._locust_once(run, user_class, users, think, title, attempt)
            other = stats["cpu_pct"].get("other processes", 0.0)
            if kept is None or other < kept["cpu_pct"].get("other processes", 0.0):
                kept = stats
            if other <= self.args.max_other or attempt > self.args.retries:
                break
            say(
                f"[{self.db}] run {run}: other processes took {other:.0f} % of the machine "
                f"(more than {self.args.max_other:g} %): running it again"
            )
        assert kept is not None
        kept["attempts"] = attempt
        self.result["runs"][run] = kept

    def _locust_once(
        self, run: str, user_class: str, users: int, think: float, title: str, attempt: int
    ) -> dict:
        # Every run signs in (run A at its start, run B throughout): keep clear of the previous
        # run's sign-ins in the rate-limit window (allauth: 30 sign-in POSTs a minute per IP).
        gap = self.last_login_burst + RATE_LIMIT_WINDOW - time.time()
        if self.last_login_burst and gap > 0:
            say(f"[{self.db}] waiting {gap:.0f} s for the sign-in rate-limit window")
            time.sleep(gap)
        self.wait_quiet()
        prefix = self.tmp / f"locust-{run}-{attempt}"
        cmd = [
            str(BIN / "locust"),
            "-f",
            str(LOCUSTFILE.relative_to(ROOT)),
            "--headless",
            "-u",
            str(users),
            "-r",
            str(users),
            "-t",
            self.args.duration,
            "--host",
            self.url,
            "--csv",
            str(prefix),
            "--only-summary",
            user_class,
        ]
        env = dict(self.env)
        env.update(
            CAREHUB_BENCH_CREDENTIALS=str(self.credentials),
            CAREHUB_BENCH_THINK=str(think),
            CAREHUB_BENCH_AUTH_RATE=str(self.args.auth_rate),
            CAREHUB_BENCH_TOTP_STATE=str(self.tmp / "totp-state.json"),
        )
        say(f"[{self.db}] run {run}: {title} ({users} users, {self.args.duration})")
        load_before = os.getloadavg()[0]
        before_children = resource.getrusage(resource.RUSAGE_CHILDREN)
        before_server = cpu_snapshot(self.gunicorn_pid, self.worker_pid)
        self.last_login_burst = time.time()
        start = time.monotonic()
        with self.log(f"locust-{run}-{attempt}") as out:
            rc = subprocess.call(cmd, cwd=ROOT, env=env, stdout=out, stderr=out)
        wall = time.monotonic() - start
        after_children = resource.getrusage(resource.RUSAGE_CHILDREN)
        after_server = cpu_snapshot(self.gunicorn_pid, self.worker_pid)
        if not Path(f"{prefix}_stats.csv").exists():
            tail = (self.tmp / f"locust-{run}-{attempt}.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"locust run {run} failed ({rc}):\n{tail}")
        stats = read_stats(prefix)
        cpu = {k: after_server[k] - before_server.get(k, 0.0) for k in after_server}
        # each gunicorn worker's share: keep-alive connections stay with the worker that accepted
        # them, so the load can be uneven (and each worker runs Python on one core at a time)
        per_worker = sorted(
            (cpu.pop(k) for k in list(cpu) if k.startswith("gunicorn worker pid")), reverse=True
        )
        cpu["locust"] = (after_children.ru_utime + after_children.ru_stime) - (
            before_children.ru_utime + before_children.ru_stime
        )
        machine_cpu = cpu.pop("machine")
        cpu["other processes"] = max(0.0, machine_cpu - sum(cpu.values()))
        stats.update(
            title=title,
            users=users,
            think=think,
            wall=round(wall, 1),
            load_before=round(load_before, 2),
            others_before=self.others_before,
            cpu_pct={k: round(100 * v / wall / (os.cpu_count() or 1), 1) for k, v in cpu.items()},
            worker_core_pct=[round(100 * v / wall) for v in per_worker],
            command=(
                f"CAREHUB_BENCH_THINK={think} "
                + shlex.join(
                    [
                        ".venv/bin/locust",
                        *cmd[1:8],
                        "-t",
                        self.args.duration,
                        "--host",
                        "http://127.0.0.1:PORT",
                        "--csv",
                        "PREFIX",
                        "--only-summary",
                        user_class,
                    ]
                )
            ),
        )
        agg = next((r for r in stats["rows"] if r["name"] == "Aggregated"), None)
        if agg:
            say(
                f"[{self.db}] run {run}: {agg['count']} requests, {agg['failures']} failed, "
                f"{agg['rps']:.1f} req/s, p50 {agg['p50']} ms, p95 {agg['p95']} ms (all rows)"
            )
        return stats

    # --- without load -----------------------------------------------------------------------
    def facts(self) -> None:
        """Database version and the password hasher's cost, measured in-process."""
        code = r"""
import json, time, threading, django
django.setup()
from django.db import connection
from django.contrib.auth.hashers import make_password, check_password, get_hasher
with connection.cursor() as c:
    if connection.vendor == "postgresql":
        c.execute("SHOW server_version"); version = "PostgreSQL " + c.fetchone()[0].split()[0]
    else:
        c.execute("select sqlite_version()"); version = "SQLite " + c.fetchone()[0]
encoded = make_password("correct horse battery staple")
check_password("correct horse battery staple", encoded)
n = 10
t = time.perf_counter()
for _ in range(n):
    check_password("correct horse battery staple", encoded)
single = (time.perf_counter() - t) / n * 1000
def work():
    for _ in range(n):
        check_password("correct horse battery staple", encoded)
threads = [threading.Thread(target=work) for _ in range(2)]
t = time.perf_counter()
[th.start() for th in threads]; [th.join() for th in threads]
rate = 2 * n / (time.perf_counter() - t)
print(json.dumps({"db_version": version, "hasher": get_hasher().algorithm,
                  "hash_ms": round(single, 1), "hash_per_s_2_threads": round(rate, 1)}))
"""
        out = subprocess.run(
            [str(PY), "-c", code], cwd=ROOT, env=self.env, capture_output=True, text=True
        )
        if out.returncode != 0:
            say(f"[{self.db}] WARNING: facts failed: {out.stderr[-500:]}")
            return
        self.result.update(json.loads(out.stdout.strip().splitlines()[-1]))

    def profile(self) -> None:
        out_json = self.tmp / "profile.json"
        with self.log("profile") as out:
            rc = subprocess.call(
                [str(PY), "bench/profile_pages.py", "--json", str(out_json), "--runs", "30"],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=out,
            )
        if rc != 0 or not out_json.exists():
            say(f"[{self.db}] WARNING: profile_pages failed; see {self.tmp}/profile.log")
            return
        self.result["profile"] = json.loads(out_json.read_text())
        say(f"[{self.db}] in-process page profile done")

    def run(self) -> dict:
        try:
            self.prepare()
            self.facts()
            self.start()
            a = self.args
            runs = {r.strip().upper() for r in a.runs.split(",")}
            if "A" in runs:
                self.locust("A", "PageUser", a.users, a.think, "pages, think time")
            if "A0" in runs:
                self.locust("A0", "PageUser", a.users, 0.0, "pages, no think time (capacity)")
            if "B" in runs:
                self.locust("B", "AuthUser", a.auth_users, 0.0, "sign-in and token issue")
            self.result["server"] = " ".join(
                [
                    "gunicorn",
                    *self.gunicorn_cmd[1:4],
                    "--workers",
                    str(a.workers),
                    "--threads",
                    str(a.threads),
                ]
            )
        finally:
            self.stop()
        self.profile()
        return self.result

    def cleanup(self) -> None:
        if self.args.keep:
            say(f"[{self.db}] kept {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


def run_session(db: str, args: argparse.Namespace) -> dict:
    session = Session(db, args)
    say(f"[{db}] working directory {session.tmp}")
    try:
        return session.run()
    except RuntimeError as exc:
        say(f"[{db}] FAILED: {exc}")
        args.keep = True
        return {"db": db, "error": str(exc)}
    finally:
        session.cleanup()


# --- the report ---------------------------------------------------------------------------------
def machine() -> dict:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kb = int(line.split()[1])
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "ram_gib": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def git_state() -> str:
    def git(*argv: str) -> str:
        return subprocess.run(
            ["git", *argv], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = [
        line
        for line in git("status", "--porcelain", "--untracked-files=no").splitlines()
        if not line[3:].startswith(("bench/", "docs/benchmarks.md"))
    ]
    if dirty:
        return f"`{commit}` + {len(dirty)} uncommitted file(s) of other work in the tree"
    return f"`{commit}`"


def versions() -> str:
    out = subprocess.run(
        [
            str(PY),
            "-c",
            "import django, gunicorn, locust; "
            "print(django.get_version(), gunicorn.__version__, locust.__version__)",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.split()
    return f"Django {out[0]}, gunicorn {out[1]}, locust {out[2]}" if len(out) == 3 else "unknown"


def fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f}" if value >= 10 else f"{value:.1f}".rstrip("0").rstrip(".")


def is_page(name: str) -> bool:
    return name.startswith(("page ", "api "))


def table(rows: list[dict], *, verdict: bool) -> list[str]:
    head = "| endpoint | requests | failed | req/s | p50 ms | p95 ms | p99 ms | max ms |"
    sep = "|---|---:|---:|---:|---:|---:|---:|---:|"
    if verdict:
        head += " p95 < 50 ms? |"
        sep += "---|"
    lines = [head, sep]
    for r in rows:
        name = r["name"] if r["name"] != "Aggregated" else "**all of the above**"
        line = (
            f"| {name} | {r['count']} | {r['failures']} | {r['rps']:.1f} | {fmt(r['p50'])} | "
            f"{fmt(r['p95'])} | {fmt(r['p99'])} | {fmt(r['max'])} |"
        )
        if verdict:
            if r["name"] == "Aggregated":
                line += " |"
            else:
                ok = r["p95"] is not None and r["p95"] < TARGET_MS and r["failures"] == 0
                line += " yes |" if ok else " **no** |"
        lines.append(line)
    return lines


def aggregate(rows: list[dict]) -> dict:
    """Totals of `rows` (percentiles are not additive: only count, failures and req/s)."""
    return {
        "name": "Aggregated",
        "count": sum(r["count"] for r in rows),
        "failures": sum(r["failures"] for r in rows),
        "rps": sum(r["rps"] for r in rows),
        "p50": None,
        "p95": None,
        "p99": None,
        "max": max((r["max"] or 0 for r in rows), default=None),
    }


def cpu_line(run: dict) -> str:
    parts = [f"{k} {v:.0f} %" for k, v in run["cpu_pct"].items() if v >= 0.5]
    workers = run.get("worker_core_pct") or []
    per_worker = (
        f"; each gunicorn worker process, as % of one core: {' / '.join(map(str, workers))}"
        if workers
        else ""
    )
    attempts = run.get("attempts", 1)
    repeated = (
        f" Kept the least disturbed of {attempts} attempts (other processes were busy)."
        if attempts > 1
        else ""
    )
    return (
        f"CPU during the run, as % of the machine's {os.cpu_count()} cores: {', '.join(parts)}"
        f"{per_worker} "
        f"(just before the run: other processes used {run.get('others_before', '?')} % of a "
        f"core, 1-min load average {run.get('load_before', '?')}).{repeated}"
    )


def failures_lines(run: dict) -> list[str]:
    if not run["failures"]:
        return []
    lines = ["", "Failures:", ""]
    for f in run["failures"][:10]:
        lines.append(f"- {f['occurrences']} x {f['name']}: `{f['error']}`")
    return lines


def section(result: dict, *, command: str, when: str, args: argparse.Namespace) -> str:
    db = result["db"]
    title = {"sqlite": "SQLite (WAL)", "postgres": "PostgreSQL"}[db]
    key = f"{db}-{args.label}" if args.label else db
    if args.label:
        title += f": {args.label}"
    m = machine()
    out = [f"<!-- bench:{key}:begin (generated by bench/run.py; edits inside are overwritten) -->"]
    out.append(f"### {title}")
    out.append("")
    if "error" in result:
        out += ["**The run failed:**", "", "```", result["error"][-2000:], "```"]
        out.append(f"<!-- bench:{key}:end -->")
        return "\n".join(out)
    out += [
        f"- **When / code:** {when}, commit {git_state()}",
        f"- **Machine:** {m['nproc']} CPUs ({m['cpu']}), {m['ram_gib']} GiB RAM, Linux "
        f"{m['kernel']}, Python {m['python']}; {result.get('db_version', db)}; {versions()}",
        f"- **Command:** `{command}`",
        f"- **Server:** `{result.get('server', '')}` (gthread, access log off), "
        "`DJANGO_SETTINGS_MODULE=config.settings.dev` (DEBUG off), `manage.py run_worker` "
        "beside it; fresh CAREHUB_VAR_DIR: init_keys, migrate, collectstatic, seed_demo "
        f"({', '.join(f'{k} {v} s' for k, v in result['steps'].items())})",
        "- **Load generator:** locust (FastHttpUser) on the same machine, not pinned: its CPU is "
        "shown under each run and is taken from the server.",
        f"- **Priority:** benchmark processes at nice {os.getpriority(os.PRIO_PROCESS, 0)}; CPU "
        "used by other processes on the machine is shown under each run.",
        "",
    ]
    runs = result["runs"]
    if "A" in runs:
        a = runs["A"]
        pages = [r for r in a["rows"] if is_page(r["name"])]
        misses = [r["name"] for r in pages if not (r["p95"] is not None and r["p95"] < TARGET_MS)]
        verdict = (
            "**meets the target: every page's p95 is under 50 ms**"
            if not misses and pages
            else f"**misses the target on {len(misses)} of {len(pages)} pages**"
        )
        out += [
            f"#### Run A: role home pages, {a['users']} users, think time "
            f"{0.5 * a['think']:g}-{1.5 * a['think']:g} s (the target run): {verdict}",
            "",
            "Each user signed in once and loaded its page once (warm-up) before the measured "
            "requests; those rows are in run B's section. Requests/s here is the offered load "
            f"(set by the think time), not a capacity. {a['wall']:.0f} s run.",
            "",
            *table([*pages, aggregate(pages)], verdict=True),
            "",
            cpu_line(a),
            *failures_lines(a),
            "",
        ]
    if "A0" in runs:
        a0 = runs["A0"]
        pages = [r for r in a0["rows"] if is_page(r["name"])]
        total = aggregate(pages)
        out += [
            f"#### Run A0: the same pages, {a0['users']} users, no think time (capacity)",
            "",
            f"Every user sends its next request as soon as the last one answers, so this is the "
            f"server's throughput when saturated ({total['rps']:.0f} req/s over all pages); "
            f"latency here is mostly queueing (Little's law: {a0['users']} users / "
            f"{total['rps']:.0f} req/s ≈ {1000 * a0['users'] / max(total['rps'], 0.1):.0f} ms "
            "mean).",
            "",
            *table([*pages, total], verdict=True),
            "",
            cpu_line(a0),
            *failures_lines(a0),
            "",
        ]
    if "B" in runs:
        b = runs["B"]
        auth = [r for r in b["rows"] if r["name"] != "Aggregated"]
        burst = [
            r
            for r in runs.get("A", {}).get("rows", [])
            if not is_page(r["name"]) and r["name"] != "Aggregated"
        ]
        out += [
            f"#### Run B: sign-in and token issue, {b['users']} users, paced at "
            f"{args.auth_rate:g} password POSTs/min to the sign-in form and "
            f"{args.auth_rate:g}/min to the token endpoint",
            "",
            "Not pages: each POST with a password checks an scrypt hash (deliberately slow). The "
            "pace stays under the product's rate limits (30 sign-in POSTs and 30 token requests "
            "a minute per client IP, and all of locust is one IP), so req/s here is the chosen "
            "pace, not a capacity; the latency is that of one sign-in at a time (no page load "
            "from the benchmark at the same time).",
            "",
            *table(auth, verdict=False),
            "",
            cpu_line(b),
            *failures_lines(b),
            "",
        ]
        if burst:
            out += [
                f"Run A's start, when all {runs['A']['users']} users signed in at once (hashes "
                "queue on the 2 cores) and then loaded their page once (warm-up, while others "
                "were still signing in):",
                "",
                *table(burst, verdict=False),
                "",
            ]
    if "hash_ms" in result:
        out += [
            f"Password hasher ({result['hasher']}), in-process: one check "
            f"{result['hash_ms']} ms; two threads together {result['hash_per_s_2_threads']} "
            "checks/s, the ceiling for sign-ins and token requests on this machine.",
            "",
        ]
    if result.get("profile"):
        out += [
            "#### Server-side cost per page, in-process, no load (bench/profile_pages.py, "
            "after the runs)",
            "",
            "| page | SQL queries | of which writes | median ms | p95 ms | most repeated query |",
            "|---|---:|---:|---:|---:|---|",
        ]
        for p in result["profile"]:
            rep = p["repeated"][0] if p["repeated"] else None
            rep_text = f"{rep['count']}x `{rep['sql'][:90]}...`" if rep else "-"
            out.append(
                f"| {p['name']} | {p['queries']} | {p['writes']} | {p['median_ms']} | "
                f"{p['p95_ms']} | {rep_text} |"
            )
        out.append("")
    out.append("<details><summary>locust commands</summary>")
    out.append("")
    for name, run in runs.items():
        out.append(f"- {name}: `{run['command']}`")
    out += ["", "</details>", "", f"<!-- bench:{key}:end -->"]
    return "\n".join(out)


DOC_HEADER = """# Benchmarks

Generated sections below are rewritten by `bench/run.py` (see the file's docstring for what it
does); text outside them is kept.

"""


def update_doc(path: Path, sections: dict[str, str]) -> None:
    """Replace each section between its markers, or append it."""
    text = path.read_text() if path.exists() else DOC_HEADER
    for key, body in sections.items():
        pattern = re.compile(
            rf"<!-- bench:{re.escape(key)}:begin.*?<!-- bench:{re.escape(key)}:end -->", re.DOTALL
        )
        if pattern.search(text):
            text = pattern.sub(lambda _m, body=body: body, text)
        else:
            text = text.rstrip("\n") + "\n\n" + body + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def failure_rate(result: dict) -> list[str]:
    problems = []
    if "error" in result:
        return [f"{result['db']}: {result['error'].splitlines()[0]}"]
    for name, run in result["runs"].items():
        agg = next((r for r in run["rows"] if r["name"] == "Aggregated"), None)
        if not agg or agg["count"] == 0:
            problems.append(f"{result['db']} run {name}: no requests")
        elif agg["failures"] / agg["count"] > MAX_FAILURE_RATE:
            problems.append(
                f"{result['db']} run {name}: {agg['failures']} of {agg['count']} requests failed"
            )
    return problems


# --- main ---------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description="CareHub benchmark (locust): pages, sign-in and token issue.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    p.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    p.add_argument("--users", type=int, default=20, help="users for the page runs (default 20)")
    p.add_argument("--duration", default="60s", help="length of each locust run (default 60s)")
    # Defaults follow scripts/run.sh (4 sync workers since the runs recorded in docs/benchmarks.md).
    p.add_argument("--workers", type=int, default=4, help="gunicorn workers (default 4)")
    p.add_argument("--threads", type=int, default=1, help="gunicorn threads (default 1)")
    p.add_argument(
        "--think",
        type=float,
        default=1.0,
        help="run A: mean think time in s; each wait is uniform in 0.5x-1.5x (default 1.0)",
    )
    p.add_argument("--auth-users", type=int, default=5, help="run B users (default 5)")
    p.add_argument(
        "--auth-rate",
        type=float,
        default=24,
        help="run B: password POSTs/min to the sign-in form, and to the token endpoint "
        "(default 24; the product allows 30/min per IP)",
    )
    p.add_argument(
        "--runs",
        default="A,A0,B",
        help="which locust runs, comma-separated (default A,A0,B; see below)",
    )
    p.add_argument(
        "--quiet-wait",
        type=float,
        default=30,
        help="before each run, wait up to this many seconds for other processes on the machine "
        "to go quiet (default 30; 0 = do not wait)",
    )
    p.add_argument(
        "--out",
        default="docs/benchmarks.md",
        help="markdown file whose generated sections are updated ('' = none)",
    )
    p.add_argument(
        "--max-other",
        type=float,
        default=15,
        help="repeat a run if other processes on the machine used more than this %% of its CPU "
        "during it (default 15)",
    )
    p.add_argument(
        "--retries", type=int, default=2, help="how many times to repeat such a run (default 2)"
    )
    p.add_argument(
        "--nice",
        type=int,
        default=0,
        help="change the priority of the benchmark and everything it starts by this much "
        "(e.g. -10, needs root: on a machine shared with other work, the benchmark then gets "
        "the CPU first); default 0",
    )
    p.add_argument(
        "--label",
        default="",
        help="name of a variant (e.g. another gunicorn config): its results go to their own "
        "sections of --out instead of replacing the main ones",
    )
    p.add_argument("--keep", action="store_true", help="keep the temporary directories")
    p.add_argument("--_session", choices=["sqlite", "postgres"], help=argparse.SUPPRESS)
    p.add_argument("--_result", help=argparse.SUPPRESS)
    return p


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    parse_duration(args.duration)  # validate early
    if not (BIN / "locust").exists() or not (BIN / "gunicorn").exists():
        say("no .venv with locust and gunicorn: run scripts/bootstrap.sh (make bootstrap) first")
        return 2

    if args._session:  # internal: one database, result as JSON (used under with-postgres.sh)
        result = run_session(args._session, args)
        Path(args._result).write_text(json.dumps(result))
        return 0

    if args.nice:
        # inherited by everything started from here: manage.py, gunicorn, the job worker,
        # PostgreSQL (scripts/with-postgres.sh) and locust
        try:
            os.nice(args.nice)
        except PermissionError:
            say(f"WARNING: not allowed to change the priority by {args.nice}; running at nice 0")
    dbs = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    command = shlex.join([".venv/bin/python", "bench/run.py", *argv])
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    started = time.monotonic()
    results: dict[str, dict] = {}
    for db in dbs:
        if db == "sqlite":
            results[db] = run_session("sqlite", args)
            continue
        fd, result_file = tempfile.mkstemp(prefix="carehub-bench-result-", suffix=".json")
        os.close(fd)
        inner = [
            str(PY),
            str(Path(__file__).resolve()),
            *argv,
            "--_session",
            "postgres",
            "--_result",
            result_file,
        ]
        rc = subprocess.call([str(ROOT / "scripts" / "with-postgres.sh"), *inner], cwd=ROOT)
        try:
            results[db] = json.loads(Path(result_file).read_text())
        except (OSError, ValueError):
            results[db] = {"db": db, "error": f"scripts/with-postgres.sh exited {rc}, no result"}
        finally:
            Path(result_file).unlink(missing_ok=True)

    sections = {
        (f"{db}-{args.label}" if args.label else db): section(
            r, command=command, when=when, args=args
        )
        for db, r in results.items()
    }
    for text in sections.values():
        print()
        print(text)
    if args.out:
        update_doc(ROOT / args.out, sections)
        say(f"wrote {args.out}")
    problems = [p for r in results.values() for p in failure_rate(r)]
    say(f"done in {time.monotonic() - started:.0f} s")
    if problems:
        for p in problems:
            say("FAIL:", p)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
