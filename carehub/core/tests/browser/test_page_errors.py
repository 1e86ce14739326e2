"""No console errors (Content-Security-Policy violations are reported there), no uncaught
script errors and no missing CSS/JS on the pages everyone sees first."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from carehub.accounts.tests.factories import TEST_PASSWORD
from carehub.patients.tests.factories import make_patient_user

from .conftest import sign_in


def _assert_assets_loaded(page: Page) -> None:
    """Pico, carehub.css and htmx really arrived and run (not only: no error was reported)."""
    assert page.evaluate("() => typeof window.htmx") == "object"
    sheets = page.evaluate("() => [...document.styleSheets].map(s => s.href || '')")
    assert any(s.endswith("/static/vendor/pico/pico.min.css") for s in sheets), sheets
    assert any(s.endswith("/static/css/carehub.css") for s in sheets), sheets
    # --pico-primary is set by carehub.css over Pico's default.
    primary = page.evaluate(
        "() => getComputedStyle(document.documentElement).getPropertyValue('--pico-primary')"
    )
    assert primary.strip().lower() == "#0b6e4f"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_login_page_loads_without_console_errors(new_page):
    page, problems = new_page()

    page.goto("/accounts/login/")
    page.wait_for_load_state("networkidle")

    _assert_assets_loaded(page)
    assert problems.all() == []


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_inline_code_is_blocked_by_the_csp_and_reported_on_the_console(new_page):
    """The CSP is enforced, and a violation is something the checks here would catch."""
    page, problems = new_page()
    page.goto("/accounts/login/")
    page.wait_for_load_state("networkidle")
    assert problems.all() == []

    page.evaluate(
        """() => {
            const script = document.createElement("script");
            script.textContent = "window.injected = true";
            document.head.append(script);
            const style = document.createElement("style");
            style.textContent = "body { background: red }";
            document.head.append(style);
        }"""
    )

    for _ in range(50):  # console events arrive asynchronously
        if len([m for m in problems.console if "Content Security Policy" in m]) >= 2:
            break
        page.wait_for_timeout(100)
    assert page.evaluate("() => window.injected") is None
    assert (
        page.evaluate("() => getComputedStyle(document.body).backgroundColor") != "rgb(255, 0, 0)"
    )
    violations = [m for m in problems.console if "Content Security Policy" in m]
    assert len(violations) == 2, problems.console


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_patient_home_loads_without_console_errors(new_page):
    patient = make_patient_user()
    page, problems = new_page()
    sign_in(page, patient.user.email, TEST_PASSWORD)
    expect(page).to_have_url(re.compile(r"/patients/me/$"))

    page.reload()
    page.wait_for_load_state("networkidle")

    _assert_assets_loaded(page)
    assert problems.all() == []
