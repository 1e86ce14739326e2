"""Server-side cost of each benchmarked page, without load: SQL query count (Django's
CaptureQueriesContext), repeated query shapes (N+1 candidates), in-process time per request and,
with --cprofile, the functions where the time goes.

Runs in-process against the database of the current settings (CAREHUB_VAR_DIR / DATABASE_URL),
with Django's test client, so network and gunicorn are excluded. It signs demo users in with
force_login (no password hashing) and writes what a real request writes (sessions, access log).
bench/run.py calls it for each database after the load runs; by hand:

  CAREHUB_VAR_DIR=/tmp/x .venv/bin/python bench/profile_pages.py --json out.json --cprofile 15
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import re
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

_NUM = re.compile(r"\b\d+\b")
_STR = re.compile(r"'[^']*'")


def _shape(sql: str) -> str:
    """The query with its literals blanked, to spot one query repeated per row."""
    return _STR.sub("?", _NUM.sub("?", sql))


def _client() -> Client:
    return Client(HTTP_HOST="127.0.0.1")


def pages(creds: dict) -> list[tuple[str, dict, str, dict]]:
    """(name, account, path, options); name matches the locust stats row."""
    patient = creds["patients"][0]
    surname = patient["name"].split()[-1]
    return [
        ("page patient /patients/me/", patient, "/patients/me/", {}),
        ("page doctor /patients/mine/", creds["doctors"][0], "/patients/mine/", {}),
        ("page nurse /patients/mine/", creds["nurse"], "/patients/mine/", {}),
        (
            "page receptionist /patients/?q=<name>",
            creds["receptionist"],
            f"/patients/?q={surname}",
            {},
        ),
        ("page receptionist /patients/", creds["receptionist"], "/patients/", {}),
        ("page admin /users/admin/", creds["admin"], "/users/admin/", {}),
        ("page auditor /audit/", creds["auditor"], "/audit/", {}),
        (
            "api patient GET /api/v1/patients/me/ (bearer)",
            patient,
            "/api/v1/patients/me/",
            {"bearer": True},
        ),
    ]


def _token(account: dict) -> str:
    response = _client().post(
        "/api/v1/auth/token/",
        {"username": account["username"], "password": account["password"]},
        content_type="application/json",
    )
    return response.json()["access"]


def measure(
    name: str, account: dict, path: str, extra: dict, *, runs: int, top: int, show_sql: bool
) -> dict:
    from carehub.accounts.models import User

    client = _client()
    headers = {}
    if extra.get("bearer"):
        headers["Authorization"] = f"Bearer {_token(account)}"
    else:
        client.force_login(User.objects.get(email=account["username"]))
    for _ in range(3):  # warm-up: templates compiled, connections open
        response = client.get(path, headers=headers)
    sql_seconds = [0.0]

    def timed(execute, sql, params, many, context):
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            sql_seconds[0] += time.perf_counter() - start

    with CaptureQueriesContext(connection) as ctx, connection.execute_wrapper(timed):
        response = client.get(path, headers=headers)
    # copied now: the next request's request_started signal empties the connection's query log
    queries = list(ctx.captured_queries)
    shapes = Counter(_shape(q["sql"]) for q in queries)
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        client.get(path, headers=headers)
        timings.append((time.perf_counter() - start) * 1000)
    result = {
        "name": name,
        "path": path,
        "status": response.status_code,
        "queries": len(queries),
        "sql_ms": round(sql_seconds[0] * 1000, 1),
        "writes": sum(
            1
            for q in queries
            if q["sql"].lstrip().split(" ", 1)[0].upper() in {"INSERT", "UPDATE", "DELETE"}
        ),
        "repeated": [{"count": n, "sql": s[:240]} for s, n in shapes.most_common() if n > 1][:5],
        "median_ms": round(statistics.median(timings), 1),
        "p95_ms": round(sorted(timings)[int(0.95 * (len(timings) - 1))], 1),
        "bytes": len(response.content),
    }
    if show_sql:
        result["sql"] = [q["sql"] for q in queries]
    if top:
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(10):
            client.get(path, headers=headers)
        profiler.disable()
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("cumulative").print_stats(r"carehub|django/template|django/db", top)
        result["cprofile"] = out.getvalue()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--credentials",
        default=str(Path(settings.VAR_DIR) / "demo-credentials.json"),
        help="demo-credentials.json from seed_demo (default: $CAREHUB_VAR_DIR's)",
    )
    parser.add_argument("--runs", type=int, default=30, help="timed requests per page")
    parser.add_argument(
        "--cprofile", type=int, default=0, metavar="N", help="also print the top N functions"
    )
    parser.add_argument("--only", default="", help="only pages whose name contains this")
    parser.add_argument("--sql", action="store_true", help="print every query of each page")
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args()
    creds = json.loads(Path(args.credentials).read_text())
    results = []
    for name, account, path, extra in pages(creds):
        if args.only and args.only not in name:
            continue
        r = measure(
            name, account, path, extra, runs=args.runs, top=args.cprofile, show_sql=args.sql
        )
        results.append(r)
        print(
            f"{name:48} HTTP {r['status']}  {r['queries']:3} queries ({r['writes']} writes, "
            f"{r['sql_ms']} ms SQL)  median {r['median_ms']} ms  p95 {r['p95_ms']} ms"
        )
        for rep in r["repeated"]:
            print(f"    {rep['count']}x {rep['sql'][:160]}")
        for sql in r.get("sql", []):
            print(f"    | {sql[:200]}")
        if r.get("cprofile"):
            print(r["cprofile"])
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
