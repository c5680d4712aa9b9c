"""Shared fixtures for the unit, reference and browser tests."""

from __future__ import annotations

import pytest

from helpers import FULL


@pytest.fixture(scope="session")
def full_run() -> bool:
    """True when exhaustive checks should run on everything (LLMBOOK_SLOW=full)."""
    return FULL
