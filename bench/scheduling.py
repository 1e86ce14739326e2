"""Scheduling benchmark: slot search over 8 weeks and booking under contention, on SQLite and
PostgreSQL. Results go to docs/benchmarks.md (section "Scheduling", written by hand from the
markdown this script prints).

  .venv/bin/python bench/scheduling.py [--db sqlite|postgres|both] [--clients 50] ...
  .venv/bin/python bench/scheduling.py --help

For each database, in a fresh temporary CAREHUB_VAR_DIR (PostgreSQL: inside
scripts/with-postgres.sh, a throwaway cluster; this script re-invokes itself under it):

1. manage.py init_keys, migrate, collectstatic;
2. generates (bulk inserts, in-process): 2 sites (Europe/London, America/New_York),
   --practitioners doctors (5 specialties; weekly rules Mon-Fri 09:00-17:00 with 15-, 20- or
   30-minute slots; every fifth doctor works Thu-Fri at the other site), 2,000 patients and
   --appointments booked appointments spread over the next 8 weeks, plus 2 x --clients patients
   with accounts for the booking runs;
3. times the slot search in-process (no HTTP): selectors.free_slots for one practitioner over
   8 weeks, and for all practitioners over 8 weeks in one call;
4. starts gunicorn and the job worker as bench/run.py does (config.wsgi, 4 sync workers,
   access log off) and drives it with a threaded HTTP client (http.client, bearer tokens
   minted in-process, as a patient):
   - after a warm-up (each worker's first requests, not measured),
     GET /api/v1/practitioners/<id>/slots/?from&to (56 days) and
     GET /api/v1/practitioners/?specialty=<code>, with 1 client and with --search-clients;
   - booking race for the SAME slot: --rounds rounds, in each all --clients clients POST
     /api/v1/appointments/ for one slot at once (barrier): one 201 expected, the rest 409;
   - booking DIFFERENT slots: --clients other clients each book --per-client distinct free
     slots back to back, all at once: 201 expected every time; and, before these two, one
     client alone books --sequential slots one after the other (a booking's cost without
     queueing);
5. stops the server and checks with SQL that no two active appointments of one practitioner,
   or of one patient, overlap.

Latency is measured by the client, from sending the request to reading the whole response
(so it includes queueing at the server: 50 clients share 4 gunicorn workers on 2 cores, and
the client threads run on the same 2 cores). Exits non-zero on a double booking, on any
answer other than 201/409 in the booking runs, or on more than one 201 per race round.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import importlib.util
import json
import math
import os
import random
import re
import resource
import shlex
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PY = ROOT / ".venv" / "bin" / "python"
WEEKS = 8
SPECIALTIES = ["general_practice", "cardiology", "dermatology", "paediatrics", "psychiatry"]
SEARCH_TARGET_MS = 50.0
BOOKING_TARGET_MS = 100.0

_spec = importlib.util.spec_from_file_location("bench_run", ROOT / "bench" / "run.py")
assert _spec and _spec.loader
bench_run = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_run)


def say(*parts: object) -> None:
    print("bench-scheduling:", *parts, flush=True)


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def summary(latencies: list[float], wall: float) -> dict[str, Any]:
    return {
        "count": len(latencies),
        "p50": round(percentile(latencies, 50), 1),
        "p95": round(percentile(latencies, 95), 1),
        "max": round(max(latencies), 1) if latencies else None,
        "rps": round(len(latencies) / wall, 1) if wall > 0 else None,
        "wall_s": round(wall, 2),
    }


# --- data -----------------------------------------------------------------------------------------
def generate(args: argparse.Namespace, rng: random.Random) -> dict[str, Any]:
    """Sites, practitioners with weekly rules, patients and appointments, by bulk insert."""
    from django.db import transaction
    from django.utils import timezone

    from carehub.accounts.choices import Role
    from carehub.accounts.models import User
    from carehub.directory.models import Practitioner, Site, Specialty
    from carehub.patients.models import Patient
    from carehub.scheduling import selectors
    from carehub.scheduling.models import Appointment, AvailabilityRule

    started = time.perf_counter()
    with transaction.atomic():
        sites = [
            Site.objects.create(
                code="ldn",
                name="London Bridge Clinic",
                timezone="Europe/London",
                emergency_phone="999",
                booking_horizon_days=120,
            ),
            Site.objects.create(
                code="nyc",
                name="Hudson Street Clinic",
                timezone="America/New_York",
                emergency_phone="911",
                booking_horizon_days=120,
            ),
        ]
        specialties = [
            Specialty.objects.get_or_create(code=code, defaults={"label": code})[0]
            for code in SPECIALTIES
        ]
        practitioners = []
        rules = []
        for i in range(args.practitioners):
            user = User(
                email=f"doctor{i}@bench.invalid",
                role=Role.DOCTOR,
                first_name="Doc",
                last_name=f"Bench{i:03d}",
            )
            user.set_unusable_password()
            user.save()
            p = Practitioner.objects.create(user=user, title="Dr", languages=["en"])
            home, other = sites[i % 2], sites[(i + 1) % 2]
            both = i % 5 == 0
            p.sites.add(home, *([other] if both else []))
            p.specialties.add(specialties[i % len(specialties)])
            for weekday in range(5):
                rules.append(
                    AvailabilityRule(
                        practitioner=p,
                        site=other if both and weekday >= 3 else home,
                        weekday=weekday,
                        start_time=dt.time(9),
                        end_time=dt.time(17),
                        slot_minutes=(15, 20, 30)[i % 3],
                        mode="both",
                    )
                )
            practitioners.append(p)
        AvailabilityRule.objects.bulk_create(rules)

        def patient(n: int, prefix: str, user=None) -> Patient:
            return Patient(
                user=user,
                site=sites[n % 2],
                mrn=f"{prefix}-{n:06d}",
                given_name="Pat",
                family_name=f"{prefix}{n}",
                birth_date=dt.date(1950, 1, 1) + dt.timedelta(days=n * 7 % 20000),
                email=f"{prefix.lower()}{n}@bench.invalid" if user else "",
            )

        pool = Patient.objects.bulk_create(
            [patient(n, "B", None) for n in range(args.patients)], batch_size=1000
        )
        client_users = []
        for n in range(2 * args.clients + 1):
            user = User(email=f"client{n}@bench.invalid", role=Role.PATIENT)
            user.set_unusable_password()
            client_users.append(user)
        User.objects.bulk_create(client_users)
        client_users = list(User.objects.filter(email__endswith="@bench.invalid", role="patient"))
        Patient.objects.bulk_create(
            [patient(n, "C", user) for n, user in enumerate(client_users)], batch_size=1000
        )
    people = time.perf_counter() - started

    # Appointments: a random sample of each practitioner's free slots, round-robin over the
    # patient pool in time order (a patient's next appointment is 2,000 bookings later: no
    # patient overlaps).
    started = time.perf_counter()
    window_start = dt.datetime.combine(
        timezone.now().date() + dt.timedelta(days=1), dt.time.min, tzinfo=dt.UTC
    )
    window_end = window_start + dt.timedelta(weeks=WEEKS)
    pids = [p.pk for p in practitioners]
    free = selectors.free_slots(
        practitioner_ids=pids, start=window_start, end=window_end, staff=True
    )
    per = args.appointments // len(pids)
    chosen = []
    for pid in pids:
        for slot in rng.sample(free[pid], min(per, len(free[pid]))):
            chosen.append((slot.start, slot.end, pid, slot.site_id, slot.modes))
    chosen.sort()
    last_end: dict[int, dt.datetime] = {}
    rows = []
    for k, (start, end, pid, site_id, modes) in enumerate(chosen):
        n = k % len(pool)
        while last_end.get(pool[n].pk, window_start) > start:
            n = (n + 1) % len(pool)
        last_end[pool[n].pk] = end
        rows.append(
            Appointment(
                practitioner_id=pid,
                patient_id=pool[n].pk,
                site_id=site_id,
                start=start,
                end=end,
                mode=rng.choice(modes),
                status="booked",
            )
        )
    with transaction.atomic():
        Appointment.objects.bulk_create(rows, batch_size=1000)
    appointments = time.perf_counter() - started
    return {
        "practitioner_ids": pids,
        "practitioner_public": {p.pk: str(p.public_id) for p in practitioners},
        "client_users": client_users,
        "window": (window_start, window_end),
        "appointments": len(rows),
        "free_slots_before": sum(len(v) for v in free.values()),
        "seconds_people": round(people, 1),
        "seconds_appointments": round(appointments, 1),
    }


def db_version() -> str:
    from django.db import connection

    with connection.cursor() as c:
        if connection.vendor == "postgresql":
            c.execute("SHOW server_version")
            return "PostgreSQL " + c.fetchone()[0].split()[0]
        c.execute("select sqlite_version()")
        return "SQLite " + c.fetchone()[0] + " (WAL)"


# --- in-process slot search -----------------------------------------------------------------------
def time_free_slots(data: dict, runs_one: int, runs_all: int) -> dict[str, Any]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from carehub.scheduling import selectors

    start, end = data["window"]
    pids = data["practitioner_ids"]
    selectors.free_slots(practitioner_ids=pids[:1], start=start, end=end)  # warm-up
    one = []
    for i in range(runs_one):
        t = time.perf_counter()
        selectors.free_slots(practitioner_ids=[pids[i % len(pids)]], start=start, end=end)
        one.append((time.perf_counter() - t) * 1000)
    every = []
    for _ in range(runs_all):
        t = time.perf_counter()
        found = selectors.free_slots(practitioner_ids=pids, start=start, end=end)
        every.append((time.perf_counter() - t) * 1000)
    with CaptureQueriesContext(connection) as ctx:
        selectors.free_slots(practitioner_ids=pids, start=start, end=end)
    return {
        "one": summary(one, sum(one) / 1000),
        "all": summary(every, sum(every) / 1000),
        "queries": len(ctx.captured_queries),
        "free_slots_now": sum(len(v) for v in found.values()),
    }


# --- HTTP -----------------------------------------------------------------------------------------
class Client:
    """One simulated API client: its own connection (gunicorn's sync workers close it after
    each response; http.client reopens it) and bearer token."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, bytes, float]:
        headers = dict(self.headers)
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        t = time.perf_counter()
        try:
            self.conn.request(method, path, body=payload, headers=headers)
            response = self.conn.getresponse()
            data = response.read()
            status = response.status
        except (http.client.HTTPException, OSError) as exc:
            self.conn.close()
            data, status = str(exc).encode(), 0
        ms = (time.perf_counter() - t) * 1000
        return status, data, ms


Job = tuple[str, str, dict | None]


def drive(clients: list[Client], jobs: list[list[Job]]) -> dict[str, Any]:
    """Each client runs its job list back to back; all start together. Returns latencies,
    statuses and bodies in job order per client, and the wall time."""
    barrier = threading.Barrier(len(clients) + 1)
    out: list[list[tuple[int, bytes, float]]] = [[] for _ in clients]

    def work(i: int) -> None:
        barrier.wait()
        for method, path, body in jobs[i]:
            out[i].append(clients[i].call(method, path, body))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(clients))]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    flat = [r for rows in out for r in rows]
    return {
        "latencies": [ms for _, _, ms in flat],
        "statuses": Counter(status for status, _, _ in flat),
        "per_client": out,
        "wall": wall,
    }


class CpuMeter:
    """CPU seconds of gunicorn, PostgreSQL and this process (the clients) over a phase, as a
    percentage of the machine (all cores)."""

    def __init__(self, session) -> None:
        self.session = session

    def __enter__(self) -> CpuMeter:
        self.before = bench_run.cpu_snapshot(self.session.gunicorn_pid, self.session.worker_pid)
        self.self_before = resource.getrusage(resource.RUSAGE_SELF)
        self.t = time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        wall = time.monotonic() - self.t
        after = bench_run.cpu_snapshot(self.session.gunicorn_pid, self.session.worker_pid)
        me = resource.getrusage(resource.RUSAGE_SELF)
        cores = os.cpu_count() or 1
        used = {k: after[k] - self.before.get(k, 0.0) for k in ("gunicorn", "postgres")}
        used["clients"] = (me.ru_utime + me.ru_stime) - (
            self.self_before.ru_utime + self.self_before.ru_stime
        )
        used["other"] = max(0.0, after["machine"] - self.before["machine"] - sum(used.values()))
        self.pct = {k: round(100 * v / wall / cores) for k, v in used.items() if v > 0.005}


def http_phases(session, args: argparse.Namespace, data: dict, rng: random.Random) -> dict:
    from carehub.accounts.tokens import _pair_for
    from carehub.scheduling import selectors

    results: dict[str, Any] = {}
    port = session.port
    users = data["client_users"]
    race_users, spread_users = users[: args.clients], users[args.clients : 2 * args.clients]
    solo_user = users[2 * args.clients]
    tokens = {u.pk: _pair_for(u).access for u in users}
    start, end = data["window"]
    first_day = start.date()
    last_day = first_day + dt.timedelta(days=7 * WEEKS - 1)
    public = data["practitioner_public"]
    pids = data["practitioner_ids"]

    # -- slot search --------------------------------------------------------------------------
    def slots_job(i: int) -> Job:
        pid = public[pids[i % len(pids)]]
        return ("GET", f"/api/v1/practitioners/{pid}/slots/?from={first_day}&to={last_day}", None)

    def search_job(i: int) -> Job:
        return ("GET", f"/api/v1/practitioners/?specialty={SPECIALTIES[i % 5]}", None)

    # Warm-up, not measured: each gunicorn worker's first requests import and build what the
    # scheduling views need (up to 2 s once per worker after a start).
    warm = [Client(port, tokens[race_users[c].pk]) for c in range(2 * args.workers)]
    drive(warm, [[slots_job(c), search_job(c)] * 2 for c in range(len(warm))])

    for name, make in (("slots", slots_job), ("search", search_job)):
        for n_clients, total in (
            (1, args.search_requests // 2),
            (args.search_clients, args.search_requests),
        ):
            session.wait_quiet()
            clients = [Client(port, tokens[race_users[c].pk]) for c in range(n_clients)]
            jobs = [
                [make(c + n_clients * k) for k in range(total // n_clients)]
                for c in range(n_clients)
            ]
            with CpuMeter(session) as cpu:
                run = drive(clients, jobs)
            bad = {str(s): n for s, n in run["statuses"].items() if s != 200}
            sample = run["per_client"][0][0][1]
            results[f"{name}-{n_clients}"] = {
                **summary(run["latencies"], run["wall"]),
                "clients": n_clients,
                "non_200": bad,
                "bytes": len(sample),
                "rows": len(json.loads(sample)) if run["statuses"].get(200) else None,
                "cpu_pct": cpu.pct,
            }
            say(f"{name} x{n_clients}: {results[f'{name}-{n_clients}']}")

    # -- pick slots for the booking runs (free now, times disjoint per client) ---------------------
    free = selectors.free_slots(practitioner_ids=pids, start=start, end=end, staff=True)
    pool = [(s, pid) for pid in pids for s in free[pid]]
    rng.shuffle(pool)
    used: set[tuple[int, dt.datetime]] = set()
    rounds: list[tuple[Any, int]] = []
    days_taken: set[dt.date] = set()
    for s, pid in pool:  # one race per day: a client may win several rounds
        if len(rounds) == args.rounds:
            break
        if s.start.date() not in days_taken:
            days_taken.add(s.start.date())
            rounds.append((s, pid))
            used.add((pid, s.start))
    spread: list[list[tuple[Any, int]]] = [[] for _ in spread_users]
    solo: list[tuple[Any, int]] = []
    it = iter(pool)
    for picks, wanted in [(solo, args.sequential)] + [(p, args.per_client) for p in spread]:
        while len(picks) < wanted:
            s, pid = next(it)
            if (pid, s.start) in used:
                continue
            if any(s.start < o.end and o.start < s.end for o, _ in picks):
                continue
            used.add((pid, s.start))
            picks.append((s, pid))

    def book(slot, pid) -> Job:
        body = {"practitioner": public[pid], "start": slot.start.isoformat(), "mode": slot.modes[0]}
        return ("POST", "/api/v1/appointments/", body)

    # -- one client booking alone: the cost of a booking without queueing ---------------------
    session.wait_quiet()
    with CpuMeter(session) as cpu:
        run = drive([Client(port, tokens[solo_user.pk])], [[book(s, pid) for s, pid in solo]])
    results["solo"] = {
        **summary(run["latencies"], run["wall"]),
        "clients": 1,
        "statuses": {str(k): v for k, v in sorted(run["statuses"].items())},
        "cpu_pct": cpu.pct,
    }
    say(f"solo: {results['solo']}")

    # -- race for the same slot ----------------------------------------------------------------
    session.wait_quiet()
    latencies: list[float] = []
    statuses: Counter = Counter()
    wins_per_round: list[int] = []
    wall = 0.0
    codes: Counter = Counter()
    with CpuMeter(session) as cpu:
        for slot, pid in rounds:
            clients = [Client(port, tokens[u.pk]) for u in race_users]
            run = drive(clients, [[book(slot, pid)] for _ in clients])
            latencies += run["latencies"]
            statuses += run["statuses"]
            wall += run["wall"]
            wins_per_round.append(run["statuses"].get(201, 0))
            for rows in run["per_client"]:
                for status, body, _ in rows:
                    if status == 409:
                        codes[json.loads(body).get("code", "?")] += 1
                    elif status != 201:
                        say(f"race: unexpected {status}: {body[:300]!r}")
    results["race"] = {
        **summary(latencies, wall),
        "clients": len(race_users),
        "rounds": len(rounds),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "codes_409": dict(codes),
        "wins_per_round": {str(k): v for k, v in sorted(Counter(wins_per_round).items())},
        "cpu_pct": cpu.pct,
    }
    say(f"race: {results['race']}")

    # -- different slots -------------------------------------------------------------------------
    session.wait_quiet()
    clients = [Client(port, tokens[u.pk]) for u in spread_users]
    with CpuMeter(session) as cpu:
        run = drive(clients, [[book(s, pid) for s, pid in picks] for picks in spread])
    for rows in run["per_client"]:
        for status, body, _ in rows:
            if status != 201:
                say(f"spread: unexpected {status}: {body[:300]!r}")
    results["spread"] = {
        **summary(run["latencies"], run["wall"]),
        "clients": len(spread_users),
        "per_client": args.per_client,
        "statuses": {str(k): v for k, v in sorted(run["statuses"].items())},
        "cpu_pct": cpu.pct,
    }
    say(f"spread: {results['spread']}")
    return results


OVERLAP_SQL = """
SELECT COUNT(*) FROM scheduling_appointment a
JOIN scheduling_appointment b
  ON a.{col} = b.{col} AND a.id < b.id AND a."start" < b."end" AND b."start" < a."end"
WHERE a.status IN ('booked', 'checked_in', 'in_progress')
  AND b.status IN ('booked', 'checked_in', 'in_progress')
"""


def verify() -> dict[str, int]:
    from django.db import connection

    found = {}
    with connection.cursor() as cursor:
        for col in ("practitioner_id", "patient_id"):
            cursor.execute(OVERLAP_SQL.format(col=col))  # constant column names only
            found[col] = cursor.fetchone()[0]
        cursor.execute("SELECT COUNT(*) FROM scheduling_appointment WHERE status = 'booked'")
        found["active"] = cursor.fetchone()[0]
    return found


def server_errors(log: Path, keep: int = 3) -> list[str]:
    """The first errors the server logged with their tracebacks (a 500 says no more): each
    "Internal Server Error" record up to the next log record, chained causes included."""
    if not log.exists():
        return []
    found: list[list[str]] = []
    current: list[str] | None = None
    for line in log.read_text(errors="replace").splitlines():
        if re.match(r"\d{4}-\d\d-\d\d \d", line):  # a new log record
            if current is not None:
                found.append(current)
                current = None
            if "Internal Server Error" in line:
                current = [line]
        elif current is not None:
            current.append(line)
    if current is not None:
        found.append(current)
    # Each one's log line and its last 60 lines (the innermost frames and the exceptions).
    return ["\n".join([*lines[:1], "...", *lines[-60:]]) for lines in found[:keep]]


def server_text(cmd: list[str]) -> str:
    """The gunicorn command without its per-run port and log file."""
    parts, i = ["gunicorn"], 1
    while i < len(cmd):
        if cmd[i] in {"--bind", "--error-logfile"}:
            i += 2
            continue
        parts.append(cmd[i])
        i += 1
    return shlex.join(parts)


# --- one database ---------------------------------------------------------------------------------
def run_session(db: str, args: argparse.Namespace) -> dict[str, Any]:
    session = bench_run.Session(db, args)
    say(f"[{db}] working directory {session.tmp}")
    result: dict[str, Any] = {"db": db}
    try:
        session.var.mkdir(parents=True)
        session.manage("init_keys")
        session.manage("migrate", "--noinput", "-v0")
        session.manage("collectstatic", "--noinput", "-v0")
        os.environ.update(session.env)
        if db == "sqlite":
            os.environ.pop("DATABASE_URL", None)
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()
        rng = random.Random(args.seed)
        result["db_version"] = db_version()
        data = generate(args, rng)
        result["data"] = {
            k: v for k, v in data.items() if k.startswith(("seconds", "free", "appo"))
        }
        say(f"[{db}] data: {result['data']}")
        result["inprocess"] = time_free_slots(data, args.runs_one, args.runs_all)
        say(f"[{db}] in-process free_slots: {result['inprocess']}")
        from django.db import connections

        connections.close_all()  # the server gets the database to itself (SQLite locks)
        session.start()
        try:
            result["http"] = http_phases(session, args, data, rng)
            result["server"] = server_text(session.gunicorn_cmd)
        finally:
            session.stop()
            result["server_errors"] = server_errors(session.tmp / "gunicorn-out.log")
            for text in result["server_errors"]:
                say(f"[{db}] server error:\n{text}")
        result["verify"] = verify()
        say(f"[{db}] overlaps: {result['verify']}")
    except Exception:
        result["error"] = traceback.format_exc()
        say(f"[{db}] FAILED:\n{result['error']}")
        args.keep = True
    finally:
        session.cleanup()
    return result


# --- report ---------------------------------------------------------------------------------------
def verdict(p95: float, target: float) -> str:
    return "**meets**" if p95 < target else "**misses**"


def cpu_text(pct: dict) -> str:
    return ", ".join(f"{k} {v} %" for k, v in pct.items())


def markdown(results: dict[str, dict], command: str, when: str, args) -> str:
    m = bench_run.machine()
    out = [
        f"Run {when}, commit {bench_run.git_state()}: `{command}`",
        "",
        f"Machine: {m['nproc']} cores ({m['cpu']}), {m['ram_gib']} GiB RAM, Linux {m['kernel']}, "
        f"Python {m['python']}.",
        "",
    ]
    for db, r in results.items():
        if "error" in r:
            out += [f"### {db}: FAILED", "", "```", r["error"][-2000:], "```", ""]
            continue
        d, ip, h = r["data"], r["inprocess"], r["http"]
        out += [
            f"### {r['db_version']}",
            "",
            f"Data: {args.practitioners} practitioners, {d['appointments']:,} booked appointments "
            f"over {WEEKS} weeks ({d['free_slots_before']:,} slots before booking, "
            f"{ip['free_slots_now']:,} left free); generated in "
            f"{d['seconds_people'] + d['seconds_appointments']:.0f} s. Server: `{r['server']}`.",
            "",
            "| measurement (target p95) | requests | p50 ms | p95 ms | max ms | req/s | verdict |",
            "|---|---:|---:|---:|---:|---:|---|",
            f"| in-process `free_slots`, 1 practitioner, 8 weeks ({SEARCH_TARGET_MS:g} ms) | "
            f"{ip['one']['count']} | {ip['one']['p50']} | {ip['one']['p95']} | "
            f"{ip['one']['max']} | - | {verdict(ip['one']['p95'], SEARCH_TARGET_MS)} |",
            f"| in-process `free_slots`, all {args.practitioners} in one call, 8 weeks "
            f"({ip['queries']} queries) | {ip['all']['count']} | {ip['all']['p50']} | "
            f"{ip['all']['p95']} | {ip['all']['max']} | - | - |",
        ]
        for key, label in (
            ("slots", "GET /api/v1/practitioners/&lt;id&gt;/slots/ (56 days)"),
            ("search", "GET /api/v1/practitioners/?specialty="),
        ):
            for n in (1, args.search_clients):
                s = h[f"{key}-{n}"]
                out.append(
                    f"| {label}, {n} client{'s' if n > 1 else ''} ({SEARCH_TARGET_MS:g} ms) | "
                    f"{s['count']} | {s['p50']} | {s['p95']} | {s['max']} | {s['rps']} | "
                    f"{verdict(s['p95'], SEARCH_TARGET_MS)} |"
                )
        race, spread, solo = h["race"], h["spread"], h["solo"]
        out += [
            f"| POST /api/v1/appointments/, 1 client alone, different slots "
            f"({BOOKING_TARGET_MS:g} ms) | {solo['count']} | {solo['p50']} | {solo['p95']} | "
            f"{solo['max']} | {solo['rps']} | {verdict(solo['p95'], BOOKING_TARGET_MS)} |",
            f"| POST /api/v1/appointments/, {race['clients']} clients racing for the same slot, "
            f"{race['rounds']} rounds ({BOOKING_TARGET_MS:g} ms) | {race['count']} | "
            f"{race['p50']} | {race['p95']} | {race['max']} | {race['rps']} | "
            f"{verdict(race['p95'], BOOKING_TARGET_MS)} |",
            f"| POST /api/v1/appointments/, {spread['clients']} clients x "
            f"{spread['per_client']} different slots ({BOOKING_TARGET_MS:g} ms) | "
            f"{spread['count']} | {spread['p50']} | {spread['p95']} | {spread['max']} | "
            f"{spread['rps']} | {verdict(spread['p95'], BOOKING_TARGET_MS)} |",
            "",
            f"Same slot: answers {race['statuses']}, 409 codes {race['codes_409']}, "
            f"201s per round {race['wins_per_round']}. Different slots: answers "
            f"{spread['statuses']}; alone: {solo['statuses']}. After the runs, SQL finds "
            f"{r['verify']['practitioner_id']} overlapping pairs of active appointments of a "
            f"practitioner and {r['verify']['patient_id']} of a patient "
            f"({r['verify']['active']:,} active appointments).",
            "",
            "CPU (% of the machine) during the same-slot race: "
            f"{cpu_text(race['cpu_pct'])}; different slots: {cpu_text(spread['cpu_pct'])}; "
            f"slots API with {args.search_clients} clients: "
            f"{cpu_text(h[f'slots-{args.search_clients}']['cpu_pct'])}.",
            "",
        ]
    return "\n".join(out)


def problems(results: dict[str, dict]) -> list[str]:
    found = []
    for db, r in results.items():
        if "error" in r:
            found.append(f"{db}: {r['error'].splitlines()[0]}")
            continue
        v = r["verify"]
        if v["practitioner_id"] or v["patient_id"]:
            found.append(f"{db}: DOUBLE BOOKING {v}")
        race, spread, solo = (r["http"][k] for k in ("race", "spread", "solo"))
        answers = set(race["statuses"]) | set(spread["statuses"]) | set(solo["statuses"])
        if answers - {"201", "409"}:
            found.append(f"{db}: unexpected answers {race['statuses']} / {spread['statuses']}")
        if set(race["wins_per_round"]) != {"1"}:
            found.append(f"{db}: 201s per race round {race['wins_per_round']}")
    return found


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description="CareHub scheduling benchmark: slot search and booking under contention.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    p.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    p.add_argument("--practitioners", type=int, default=50)
    p.add_argument("--appointments", type=int, default=20_000)
    p.add_argument("--patients", type=int, default=2_000, help="patients holding them")
    p.add_argument("--clients", type=int, default=50, help="concurrent booking clients")
    p.add_argument("--rounds", type=int, default=20, help="same-slot race rounds")
    p.add_argument("--per-client", type=int, default=10, help="different-slot bookings each")
    p.add_argument(
        "--sequential", type=int, default=50, help="bookings by one client alone, one by one"
    )
    p.add_argument("--search-clients", type=int, default=10)
    p.add_argument(
        "--search-requests",
        type=int,
        default=300,
        help="requests per search endpoint with --search-clients (half that with 1 client)",
    )
    p.add_argument("--runs-one", type=int, default=100, help="in-process runs, 1 practitioner")
    p.add_argument("--runs-all", type=int, default=10, help="in-process runs, all practitioners")
    p.add_argument("--workers", type=int, default=4, help="gunicorn workers (default 4)")
    p.add_argument("--threads", type=int, default=1, help="gunicorn threads (default 1)")
    p.add_argument("--seed", type=int, default=20261121)
    p.add_argument(
        "--quiet-wait",
        type=float,
        default=30,
        help="before each HTTP phase, wait up to this many seconds for other processes to go "
        "quiet (default 30)",
    )
    p.add_argument("--json", default="", help="also write the raw results here")
    p.add_argument("--keep", action="store_true", help="keep the temporary directories")
    p.add_argument("--_session", choices=["sqlite", "postgres"], help=argparse.SUPPRESS)
    p.add_argument("--_result", help=argparse.SUPPRESS)
    return p


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    if args._session:
        result = run_session(args._session, args)
        Path(args._result).write_text(json.dumps(result, default=str))
        return 0
    command = shlex.join([".venv/bin/python", "bench/scheduling.py", *argv])
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    started = time.monotonic()
    results: dict[str, dict] = {}
    for db in ["sqlite", "postgres"] if args.db == "both" else [args.db]:
        fd, result_file = tempfile.mkstemp(prefix="carehub-bench-sched-", suffix=".json")
        os.close(fd)
        inner = [str(PY), str(Path(__file__).resolve()), *argv, "--_session", db]
        inner += ["--_result", result_file]
        if db == "postgres":
            inner = [str(ROOT / "scripts" / "with-postgres.sh"), *inner]
        rc = subprocess.call(inner, cwd=ROOT)
        try:
            results[db] = json.loads(Path(result_file).read_text())
        except (OSError, ValueError):
            results[db] = {"db": db, "error": f"session exited {rc} without a result"}
        finally:
            Path(result_file).unlink(missing_ok=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str))
    print()
    print(markdown(results, command, when, args))
    found = problems(results)
    say(f"done in {time.monotonic() - started:.0f} s")
    for p in found:
        say("FAIL:", p)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
