"""Screenshots for the README, taken from a real CareHub in headless Chromium.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots] [--keep]

Builds a throwaway install in a temporary CAREHUB_VAR_DIR (init_keys, migrate, collectstatic,
seed_demo), serves it with gunicorn on a free local port, signs in as the demo patient, doctor,
administrator and auditor (TOTP codes computed from var/demo-credentials.json of that install),
and writes PNG files. The repository's own var/ is never touched. All data is the seeded fake
demo clinic; passwords and TOTP secrets appear in no screenshot.

Needs Debian's Chromium (/usr/bin/chromium, or CAREHUB_CHROMIUM); never downloads a browser."""

from __future__ import annotations

import argparse
import base64
import hmac
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv" / "bin" / "python"
GUNICORN = ROOT / ".venv" / "bin" / "gunicorn"
CHROMIUM = os.environ.get("CAREHUB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
TOTP_PERIOD = 30


def say(text: str) -> None:
    print(f"screenshots: {text}", flush=True)


# --- the throwaway install ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([str(PYTHON), "manage.py", *args], cwd=ROOT, env=env, check=True)  # noqa: S603


def wait_until_up(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 (our own local server)
                return
        except urllib.error.HTTPError:
            return  # it answered
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"screenshots: the server did not answer at {url} within {timeout:.0f} s")


@contextmanager
def carehub_server(var_dir: Path):
    """Yields (base url, demo credentials) of a seeded CareHub served by gunicorn."""
    env = {
        **os.environ,
        "CAREHUB_VAR_DIR": str(var_dir),
        "DJANGO_SETTINGS_MODULE": "config.settings.dev",
        "DJANGO_DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
    }
    for name in ("DATABASE_URL", "EMAIL_HOST", "DJANGO_SECRET_KEY"):
        env.pop(name, None)  # SQLite in var_dir, mail to files, a per-install secret
    say(f"preparing a demo install in {var_dir}")
    manage(env, "init_keys")
    manage(env, "migrate", "--noinput", "-v0")
    manage(env, "collectstatic", "--noinput", "-v0")
    manage(env, "seed_demo")
    credentials = json.loads((var_dir / "demo-credentials.json").read_text())

    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    say(f"serving on {base_url}")
    server = subprocess.Popen(  # noqa: S603
        [
            str(GUNICORN),
            "config.wsgi:application",
            f"--bind=127.0.0.1:{port}",
            "--workers=2",
            "--no-control-socket",  # no socket left in ~/.gunicorn
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        wait_until_up(f"{base_url}/accounts/login/")
        yield base_url, credentials
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


# --- signing in ----------------------------------------------------------------------------------


def totp_now(secret: str, *, margin: float = 3.0) -> str:
    """RFC 6238 code (SHA-1, 6 digits, 30 s), with at least `margin` seconds of its period left:
    CareHub accepts a code once, and only in its own period."""
    left = TOTP_PERIOD - time.time() % TOTP_PERIOD
    if left < margin:
        time.sleep(left + 0.1)
    key = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
    digest = hmac.digest(key, struct.pack(">Q", int(time.time()) // TOTP_PERIOD), "sha1")
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


class Shooter:
    def __init__(self, browser, base_url: str, out: Path) -> None:
        self.codes_used: dict[str, str] = {}
        self.browser = browser
        self.base_url = base_url
        self.out = out
        self.problems: list[str] = []
        self.notes: list[str] = []
        self.written: list[Path] = []

    def session(self, viewport: dict[str, int] | None = None):
        context = self.browser.new_context(
            base_url=self.base_url, viewport=viewport or DESKTOP, device_scale_factor=1
        )
        context.set_default_timeout(15_000)
        page = context.new_page()
        page.on(
            "console",
            lambda m: m.type == "error" and self.problems.append(f"{page.url}: console: {m.text}"),
        )
        page.on("pageerror", lambda e: self.problems.append(f"{page.url}: pageerror: {e}"))
        return context, page

    def check_layout(self, page, name: str) -> None:
        """What a glance at a screenshot can miss: sideways scrolling, of the page or of a table
        whose last columns are cut off."""
        page_width = page.evaluate(
            "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        if page_width[0] > page_width[1]:
            self.problems.append(f"{name}: the page scrolls sideways {page_width}")
        for wrap in page.locator(".table-wrap").all():
            scroll, client = wrap.evaluate("e => [e.scrollWidth, e.clientWidth]")
            if scroll > client:
                caption = (
                    wrap.locator("caption").first.inner_text()
                    if wrap.locator("caption").count()
                    else "(no caption)"
                )
                self.notes.append(
                    f"{name}: table '{caption}' is wider than the page ({scroll} > {client} px)"
                )

    def sign_in(self, page, account: dict[str, Any]) -> None:
        page.goto("/accounts/login/")
        page.get_by_label("Email").fill(account["username"])
        page.get_by_label("Password").fill(account["password"])
        page.get_by_role("button", name="Sign In").click()
        page.wait_for_url(lambda url: not url.endswith("/accounts/login/"))
        if "totp_secret" in account:
            # A code is accepted once (replay protection): a second sign-in of the same account
            # within its 30 s window waits for the next code.
            secret = account["totp_secret"]
            code = totp_now(secret)
            while code == self.codes_used.get(secret):
                time.sleep(1)
                code = totp_now(secret)
            self.codes_used[secret] = code
            page.get_by_label("Code").fill(code)
            page.get_by_role("button", name="Sign In").click()
            page.wait_for_url(lambda url: "/accounts/2fa/" not in url)

    def shoot(self, page, name: str, *, down_to: str | None = None) -> None:
        """Screenshot of the viewport; with `down_to` (a selector), from the top of the page to
        520 px below the top of that element (a table's first rows under a long filter form)."""
        page.wait_for_load_state("networkidle")
        # No caret or focus ring caught mid-blink; the page as a reader first sees it.
        page.evaluate("() => document.activeElement && document.activeElement.blur()")
        self.check_layout(page, name)
        path = self.out / name
        options: dict[str, Any] = {"path": str(path), "animations": "disabled", "caret": "hide"}
        if down_to is not None:
            top = page.locator(down_to).first.evaluate(
                "e => e.getBoundingClientRect().top + window.scrollY"
            )
            height = page.evaluate("() => document.documentElement.scrollHeight")
            width = page.viewport_size["width"]
            options |= {
                "full_page": True,
                "clip": {"x": 0, "y": 0, "width": width, "height": min(height, top + 520)},
            }
        page.screenshot(**options)
        self.written.append(path)
        say(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


def take_all(shooter: Shooter, credentials: dict[str, Any]) -> None:
    patients_by_mrn = {p["mrn"]: p for p in credentials["patients"]}

    # 1. The sign-in page, as everyone first sees it.
    context, page = shooter.session()
    page.goto("/accounts/login/")
    shooter.shoot(page, "login.png")
    context.close()

    # 2. A doctor's list, and the doctor opening one of their patients who has an account (so
    #    that patient's "who viewed my record" has a staff row to show).
    doctor = patient = None
    for candidate in credentials["doctors"]:
        context, page = shooter.session()
        shooter.sign_in(page, candidate)
        page.goto("/patients/mine/")
        mrns = page.locator("table tbody tr td:nth-child(3)").all_inner_texts()
        signed_up = [m.strip() for m in mrns if m.strip() in patients_by_mrn]
        if signed_up:
            doctor, patient = candidate, patients_by_mrn[signed_up[0]]
            break
        context.close()
    if doctor is None or patient is None:
        raise SystemExit("screenshots: no demo doctor looks after a demo patient with an account")
    shooter.shoot(page, "doctor-patients.png")
    page.get_by_role("row").filter(has_text=patient["mrn"]).get_by_role("link").first.click()
    page.wait_for_url("**/patients/*-*/")
    context.close()

    # 3. The administrator's home, and the auditor's report (before the patient signs in, so
    #    its newest rows are the doctor's reads, not the patient's own).
    context, page = shooter.session()
    shooter.sign_in(page, credentials["admin"])
    page.goto("/users/admin/")
    shooter.shoot(page, "admin-home.png")
    context.close()

    context, page = shooter.session()
    shooter.sign_in(page, credentials["auditor"])
    page.goto("/audit/")
    shooter.shoot(page, "audit-report.png", down_to="table")
    context.close()

    # 4. The patient: home (desktop and phone) and who viewed the record.
    context, page = shooter.session()
    shooter.sign_in(page, patient)
    page.goto("/patients/me/")  # again: without the "signed in" message
    shooter.shoot(page, "patient-home.png")
    page.goto("/audit/my-access/")
    rows = page.locator("table tbody tr").filter(has_text=doctor["name"].split()[-1])
    if rows.count() == 0:
        shooter.problems.append("who-viewed-my-record: the doctor's visit is not listed")
    shooter.shoot(page, "patient-my-access.png")
    context.close()

    context, page = shooter.session(PHONE)
    shooter.sign_in(page, patient)
    page.goto("/patients/me/")
    shooter.shoot(page, "patient-home-mobile.png")
    context.close()

    # 5. Scheduling: the patient's step 2 (practitioners with their next free times), the
    #    doctor's week and the reception calendar over the next seven days.
    context, page = shooter.session()
    shooter.sign_in(page, patient)
    page.goto("/appointments/book/general_practice/")
    shooter.shoot(page, "booking-slots.png")
    context.close()

    context, page = shooter.session()
    shooter.sign_in(page, doctor)
    page.goto("/appointments/week/")
    shooter.shoot(page, "doctor-week.png")
    context.close()

    context, page = shooter.session()
    shooter.sign_in(page, credentials["receptionist"])
    page.goto("/appointments/calendar/?span=week")
    shooter.shoot(page, "reception-calendar.png", down_to="table")
    context.close()

    # 6. Symptom checker on a phone: a question, then the result with the hand-off to booking;
    #    and the administrator's usage page.
    context, page = shooter.session(PHONE)
    shooter.sign_in(page, patient)
    page.goto("/symptoms/")
    page.fill("textarea[name=text]", "Sore throat and a temperature since yesterday, no cough.")
    page.click("button:has-text('Start')")
    page.wait_for_selector("#question")
    shooter.shoot(page, "symptoms-question-mobile.png")
    for _ in range(30):
        if page.locator("#question").count() == 0:
            break
        page.click("button:has-text('Not sure')")
        page.wait_for_load_state()
    shooter.shoot(page, "symptoms-result-mobile.png")
    context.close()

    context, page = shooter.session()
    shooter.sign_in(page, credentials["admin"])
    page.goto("/symptoms/usage/")
    shooter.shoot(page, "symptoms-usage.png")
    context.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--keep", action="store_true", help="keep the temporary install")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"screenshots: Chromium not found at {CHROMIUM}")

    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    var_dir = Path(tempfile.mkdtemp(prefix="carehub-screenshots-"))
    try:
        with carehub_server(var_dir) as (base_url, credentials), sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            shooter = Shooter(browser, base_url, args.out)
            try:
                take_all(shooter, credentials)
            finally:
                browser.close()
    finally:
        if args.keep:
            say(f"kept the install in {var_dir}")
        else:
            shutil.rmtree(var_dir, ignore_errors=True)
    for note in shooter.notes:
        say(f"note: {note}")
    for problem in shooter.problems:
        say(f"PROBLEM {problem}")
    return 1 if shooter.problems else 0


if __name__ == "__main__":
    sys.exit(main())
