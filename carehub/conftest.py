"""Fixtures shared by every app's tests."""

from __future__ import annotations

import pytest
from django.conf import settings

from carehub.core import crypto


@pytest.fixture(autouse=True, scope="session")
def _encryption_key():
    """A throwaway key file for the test run.

    settings.test points CAREHUB_KEY_FILE at a temporary directory."""
    if not settings.CAREHUB_KEY_FILE.exists():
        crypto.write_keyring(crypto.generate_keyring())
    crypto.keyring.cache_clear()
    yield


@pytest.fixture(autouse=True)
def _fresh_caches():
    """Rate-limit and one-time-code caches must not leak between tests."""
    from django.core.cache import cache

    cache.clear()
    yield
