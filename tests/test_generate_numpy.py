"""generate(..., engine="numpy") gives the same tokens as the torch engine."""

import pytest

from helpers import one_torch_thread

from llmbook.inference.generate import generate


@pytest.fixture(scope="module")
def model(smollm):
    with one_torch_thread():
        yield smollm


@pytest.mark.parametrize("strategy, params", [("greedy", {}), ("top-p", {"top_p": 0.9, "temperature": 0.8}),
                                              ("min-p", {"min_p": 0.1})])
def test_same_tokens_as_torch_engine(model, strategy, params):
    prompt = "The capital of France is"
    torch_ids = generate(model, prompt, strategy, max_new_tokens=10, seed=0, **params).ids
    numpy_ids = generate(model, prompt, strategy, max_new_tokens=10, seed=0, engine="numpy", **params).ids
    assert numpy_ids == torch_ids


def test_without_cache_too(model):
    ids = generate(model, "def add(a, b):", max_new_tokens=5).ids
    assert generate(model, "def add(a, b):", max_new_tokens=5, engine="numpy", use_cache=False).ids == ids


def test_engine_errors(model):
    with pytest.raises(ValueError, match="unknown engine 'gpu'"):
        generate(model, "x", engine="gpu")
    with pytest.raises(ValueError, match="not 'beam'"):
        generate(model, "x", "beam", engine="numpy", num_beams=2)
