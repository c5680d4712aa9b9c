"""Shared fixtures for the unit, reference and browser tests."""

from __future__ import annotations

import os
from typing import Any

import pytest

from helpers import FULL

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def full_run() -> bool:
    """True when exhaustive checks should run on everything (LLMBOOK_SLOW=full)."""
    return FULL


@pytest.fixture(scope="session")
def smollm() -> Any:
    """The book's SmolLM2-135M-Instruct, loaded once per session (tests that change a setting restore it)."""
    from llmbook.models.llama import load_model

    return load_model("smollm2-135m-instruct")


@pytest.fixture(scope="session")
def hf_smollm() -> Any:
    """`transformers` loading the same GGUF file as a float32 model: the reference, ~20 s to load, so once."""
    pytest.importorskip("transformers")
    from llmbook.models.registry import reference_model

    return reference_model("smollm2-135m-instruct")
