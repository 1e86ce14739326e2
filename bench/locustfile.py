"""Locust scenarios for CareHub. Normally driven by `bench/run.py`, which seeds a throwaway
database, starts gunicorn and sets the environment below; docs/benchmarks.md has the results.

Two user classes (name one on the locust command line):

* `PageUser` (run A): each simulated user signs in ONCE in on_start with its own demo account
  (staff with a TOTP code) and loads its page once ("warm-up ..." rows), then waits until every
  user is ready, so the password hashing of the sign-in burst does not overlap page
  measurements. Then it requests its role's home page in a loop. Roles are dealt in this
  order: patient, doctor, receptionist, admin, auditor, API client (patient with a bearer
  token), nurse, then patient / doctor / API client again.
* `AuthUser` (run B): sign-in (patient; staff with TOTP) and API token issue in a loop, paced
  under the product's rate limits (allauth "login" 30/min per IP, DRF "token" 30/min per IP),
  because every one of these requests checks an scrypt password hash (deliberately slow).

Each endpoint is reported under its own name. A non-2xx answer, or any redirect that is not the
expected next step (for example to the sign-in page), counts as a failure.

Environment:
  CAREHUB_BENCH_CREDENTIALS  demo-credentials.json written by `manage.py seed_demo`
                             (default: var/demo-credentials.json)
  CAREHUB_BENCH_THINK        mean think time in seconds between a user's page requests; each wait
                             is uniform in [0.5, 1.5] x this. 0 = no think time. (default 1.0)
  CAREHUB_BENCH_AUTH_RATE    run B: password POSTs per minute for the sign-in form, and separately
                             for the token endpoint, over all users (default 24)
  CAREHUB_BENCH_TOTP_STATE   JSON file remembering which TOTP period each staff account last
                             used, shared by successive locust runs (optional)
"""

from __future__ import annotations

import base64
import hmac
import itertools
import json
import os
import random
import re
import struct
import time
from pathlib import Path
from urllib.parse import urlencode

import gevent
from gevent.event import Event
from locust import FastHttpUser, events, task

CREDENTIALS_FILE = Path(os.environ.get("CAREHUB_BENCH_CREDENTIALS", "var/demo-credentials.json"))
THINK = float(os.environ.get("CAREHUB_BENCH_THINK", "1.0"))
AUTH_RATE_PER_MIN = float(os.environ.get("CAREHUB_BENCH_AUTH_RATE", "24"))
TOTP_STATE_FILE = os.environ.get("CAREHUB_BENCH_TOTP_STATE", "")

TOTP_PERIOD = 30
# A code is computed only when at least this many seconds of its period are left, so that it is
# still current when the server checks it (allauth accepts the current period only).
TOTP_MIN_REMAINING = 5.0

CSRF_RE = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
FORM = {"Content-Type": "application/x-www-form-urlencoded"}

LOGIN_URL = "/accounts/login/"
MFA_URL = "/accounts/2fa/authenticate/"
TOKEN_URL = "/api/v1/auth/token/"
HOME_BY_ROLE = {
    "patient": "/patients/me/",
    "doctor": "/patients/mine/",
    "nurse": "/patients/mine/",
    "receptionist": "/patients/",
    "admin": "/users/admin/",
    "auditor": "/audit/",
}

# Request names (one row each in locust's statistics). run.py groups rows by these prefixes.
N_LOGIN_FORM = "sign-in GET /accounts/login/"
N_LOGIN_POST_PATIENT = "sign-in POST /accounts/login/ (patient: password)"
N_LOGIN_POST_STAFF = "sign-in POST /accounts/login/ (staff: password)"
N_MFA_FORM = "sign-in GET /accounts/2fa/authenticate/"
N_MFA_POST = "sign-in POST /accounts/2fa/authenticate/ (TOTP code)"
N_HOME_REDIRECT = "sign-in GET / (redirect to role home)"
N_FIRST_PAGE = "sign-in GET role home (first page after sign-in)"
N_TOKEN = "token POST /api/v1/auth/token/ (patient: password)"


def _load_credentials() -> dict:
    if not CREDENTIALS_FILE.exists():
        raise SystemExit(
            f"{CREDENTIALS_FILE} not found: run `manage.py seed_demo` (bench/run.py does) or set "
            "CAREHUB_BENCH_CREDENTIALS"
        )
    return json.loads(CREDENTIALS_FILE.read_text())


CREDS = _load_credentials()
STAFF_BY_ROLE: dict[str, list[dict]] = {
    "admin": [CREDS["admin"]],
    "auditor": [CREDS["auditor"]],
    "receptionist": [CREDS["receptionist"]],
    "nurse": [CREDS["nurse"]],
    "doctor": list(CREDS["doctors"]),
}
ROLE_OF_STAFF = {a["username"]: role for role, accts in STAFF_BY_ROLE.items() for a in accts}
PATIENTS: list[dict] = list(CREDS["patients"])
SEARCH_NAMES = sorted({p["name"].split()[-1] for p in PATIENTS})


# --- TOTP (RFC 6238: base32 secret, 30 s, 6 digits, HMAC-SHA-1) ---------------------------------
def totp_code(secret: str, counter: int) -> str:
    key = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
    digest = hmac.digest(key, struct.pack(">Q", counter), "sha1")
    offset = digest[-1] & 15
    value = (struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF) % 1_000_000
    return f"{value:06d}"


_totp_used: dict[str, int] = {}


def _totp_state_load() -> None:
    if TOTP_STATE_FILE and Path(TOTP_STATE_FILE).exists():
        _totp_used.update(json.loads(Path(TOTP_STATE_FILE).read_text()))


def _totp_state_save() -> None:
    if TOTP_STATE_FILE:
        Path(TOTP_STATE_FILE).write_text(json.dumps(_totp_used))


_totp_state_load()


def fresh_totp(username: str, secret: str) -> str:
    """A code for a period this account has not used yet (allauth refuses a code used before in
    its period), with enough of the period left; sleeps (cooperatively) until there is one."""
    while True:
        now = time.time()
        counter = int(now // TOTP_PERIOD)
        remaining = TOTP_PERIOD - now % TOTP_PERIOD
        if _totp_used.get(username, -1) < counter and remaining >= TOTP_MIN_REMAINING:
            _totp_used[username] = counter  # no cooperative yield between the check and this
            _totp_state_save()
            return totp_code(secret, counter)
        gevent.sleep(remaining + 0.05)


# --- shared helpers ----------------------------------------------------------------------------
def _location(response) -> str:
    headers = response.headers or {}
    return headers.get("Location") or headers.get("location") or ""


def _check(response, status: int, location: str | None = None) -> bool:
    """Mark `response` (from catch_response=True) as failed unless it has `status` (and, for a
    redirect, goes to `location`). Returns whether it passed."""
    got = _location(response)
    if response.status_code != status:
        where = f" -> {got}" if got else ""
        response.failure(f"HTTP {response.status_code}{where} (expected {status})")
        return False
    if location is not None and got.split("?")[0] != location:
        response.failure(f"redirect to {got!r} (expected {location!r})")
        return False
    if status == 200 and b'name="password"' in (response.content or b"")[:200_000]:
        response.failure("got a sign-in form instead of the page")
        return False
    response.success()
    return True


class CareHubUser(FastHttpUser):
    abstract = True

    def _csrf_from(self, response) -> str:
        match = CSRF_RE.search(response.text or "")
        if not match:
            response.failure("no CSRF token in the form")
            return ""
        return match.group(1)

    def sign_in(self, account: dict, *, staff: bool) -> str | None:
        """The browser sign-in: form, password, TOTP code for staff, then the redirect chain to the
        role's home page. Returns the home page path, or None if a step failed."""
        self.client.cookiejar.clear()
        with self.client.get(
            LOGIN_URL, name=N_LOGIN_FORM, allow_redirects=False, catch_response=True
        ) as r:
            if r.status_code != 200:
                _check(r, 200)
                return None
            csrf = self._csrf_from(r)
            if not csrf:
                return None
            r.success()
        fields = {
            "csrfmiddlewaretoken": csrf,
            "login": account["username"],
            "password": account["password"],
        }
        expected = MFA_URL if staff else "/"
        with self.client.post(
            LOGIN_URL,
            data=urlencode(fields),
            headers=FORM,
            name=N_LOGIN_POST_STAFF if staff else N_LOGIN_POST_PATIENT,
            allow_redirects=False,
            catch_response=True,
        ) as r:
            if not _check(r, 302, expected):
                return None
        if staff:
            with self.client.get(
                MFA_URL, name=N_MFA_FORM, allow_redirects=False, catch_response=True
            ) as r:
                if r.status_code != 200:
                    _check(r, 200)
                    return None
                csrf = self._csrf_from(r)
                if not csrf:
                    return None
                r.success()
            code = fresh_totp(account["username"], account["totp_secret"])
            with self.client.post(
                MFA_URL,
                data=urlencode({"csrfmiddlewaretoken": csrf, "code": code}),
                headers=FORM,
                name=N_MFA_POST,
                allow_redirects=False,
                catch_response=True,
            ) as r:
                if not _check(r, 302, "/"):
                    return None
        role = ROLE_OF_STAFF[account["username"]] if staff else "patient"
        home = HOME_BY_ROLE[role]
        with self.client.get(
            "/", name=N_HOME_REDIRECT, allow_redirects=False, catch_response=True
        ) as r:
            if not _check(r, 302, home):
                return None
        return home

    def issue_token(self, account: dict, name: str = N_TOKEN) -> str | None:
        with self.client.post(
            TOKEN_URL,
            json={"username": account["username"], "password": account["password"]},
            name=name,
            allow_redirects=False,
            catch_response=True,
        ) as r:
            if not _check(r, 200):
                return None
            try:
                return r.json()["access"]
            except (ValueError, KeyError):
                r.failure("no access token in the answer")
                return None


# --- run A: role home pages --------------------------------------------------------------------
PAGE_ROLES_FIRST = ["patient", "doctor", "receptionist", "admin", "auditor", "api", "nurse"]
PAGE_ROLES_MORE = ["patient", "doctor", "api"]


def page_role(index: int) -> str:
    if index < len(PAGE_ROLES_FIRST):
        return PAGE_ROLES_FIRST[index]
    return PAGE_ROLES_MORE[(index - len(PAGE_ROLES_FIRST)) % len(PAGE_ROLES_MORE)]


def pages_for(role: str) -> list[tuple[str, str]]:
    """(path, stats name) of the pages a user of `role` requests, in turn."""
    if role == "receptionist":
        return [
            ("/patients/?q={name}", "page receptionist /patients/?q=<name>"),
            ("/patients/", "page receptionist /patients/"),
        ]
    if role == "api":
        return [("/api/v1/patients/me/", "api patient GET /api/v1/patients/me/ (bearer)")]
    return [(HOME_BY_ROLE[role], f"page {role} {HOME_BY_ROLE[role]}")]


_page_users = itertools.count()
_signed_in = 0
_all_signed_in = Event()


@events.test_start.add_listener
def _reset(environment, **_kwargs):
    global _page_users, _signed_in
    _page_users = itertools.count()
    _signed_in = 0
    _all_signed_in.clear()


def _arrive(environment) -> None:
    global _signed_in
    _signed_in += 1
    expected = getattr(environment.parsed_options, "num_users", None) or 1
    if _signed_in >= expected:
        _all_signed_in.set()


class PageUser(CareHubUser):
    """Run A: sign in once, then load the role's home page again and again."""

    def wait_time(self) -> float:
        return random.uniform(0.5 * THINK, 1.5 * THINK) if THINK > 0 else 0.0

    def on_start(self) -> None:
        index = next(_page_users)
        self.role = page_role(index)
        self.token: str | None = None
        self.ok = False
        try:
            if self.role == "api":
                self.token = self.issue_token(
                    PATIENTS[index % len(PATIENTS)], name=N_TOKEN + " [setup]"
                )
                self.ok = self.token is not None
            elif self.role == "patient":
                self.ok = self.sign_in(PATIENTS[index % len(PATIENTS)], staff=False) is not None
            else:
                accounts = STAFF_BY_ROLE[self.role]
                # the n-th user of this role takes the n-th account (reused ones wait for a new
                # TOTP period in fresh_totp)
                nth = sum(1 for i in range(index) if page_role(i) == self.role)
                self.ok = self.sign_in(accounts[nth % len(accounts)], staff=True) is not None
            if self.ok:
                # one request per page first, reported as "warm-up ...": the first render of a
                # template in each server process compiles it; the measured rows are steady state
                for path, name in pages_for(self.role):
                    self._get_page(path, f"warm-up {name}")
        finally:
            _arrive(self.environment)
        # Pages start once everybody is signed in (or after 120 s, whatever happens), each user
        # after a random part of a think time so that they do not all fire at the same instant.
        _all_signed_in.wait(timeout=120)
        if THINK > 0:
            gevent.sleep(random.uniform(0, THINK))
        self.pages = itertools.cycle(pages_for(self.role))

    def _get_page(self, path: str, name: str) -> None:
        path = path.format(name=random.choice(SEARCH_NAMES))
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else None
        with self.client.get(
            path, name=name, headers=headers, allow_redirects=False, catch_response=True
        ) as r:
            _check(r, 200)

    @task
    def home_page(self) -> None:
        path, name = next(self.pages)
        self._get_page(path, name)


# --- run B: sign-in and token issue (password hashing), paced under the rate limits ------------
AUTH_KINDS = ["patient-login", "token", "staff-login"]
_auth_users = itertools.count()
_STAFF_ORDER = ("admin", "auditor", "receptionist", "nurse", "doctor")
_staff_accounts = itertools.cycle([a for role in _STAFF_ORDER for a in STAFF_BY_ROLE[role]])
_patient_accounts = itertools.cycle(PATIENTS)


def _kind_count(kind: str, users: int) -> int:
    return sum(1 for i in range(users) if AUTH_KINDS[i % len(AUTH_KINDS)] == kind)


class AuthUser(CareHubUser):
    """Run B: one full sign-in (or one token request) per iteration, paced so that all users
    together send AUTH_RATE_PER_MIN password POSTs a minute to the sign-in form (patients and
    staff) and as many to the token endpoint."""

    def on_start(self) -> None:
        index = next(_auth_users)
        self.kind = AUTH_KINDS[index % len(AUTH_KINDS)]
        users = getattr(self.environment.parsed_options, "num_users", None) or 1
        if self.kind == "token":
            share = _kind_count("token", users)
        else:
            share = _kind_count("patient-login", users) + _kind_count("staff-login", users)
        self.period = 60.0 * max(share, 1) / AUTH_RATE_PER_MIN
        # start at a random offset so that the users do not fire together
        gevent.sleep(random.uniform(0, self.period))
        self.next_start = time.monotonic()

    def wait_time(self) -> float:
        # constant pacing: one iteration every `period` seconds (or at once if one ran late)
        now = time.monotonic()
        self.next_start = max(self.next_start + self.period, now)
        return self.next_start - now

    @task
    def authenticate(self) -> None:
        if self.kind == "token":
            self.issue_token(next(_patient_accounts))
            return
        staff = self.kind == "staff-login"
        account = next(_staff_accounts) if staff else next(_patient_accounts)
        home = self.sign_in(account, staff=staff)
        if home is not None:
            with self.client.get(
                home, name=N_FIRST_PAGE, allow_redirects=False, catch_response=True
            ) as r:
                _check(r, 200)
