"""The browser engine's benchmark (examples/bench_browser.py): the numbers on the page are the JSON's."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest

from tools.bench import latest_record

ROOT = Path(__file__).resolve().parent.parent
GENERATED = ROOT / "docs" / "generated" / "bench"


@pytest.fixture(scope="module")
def bench() -> dict:
    path = GENERATED / "browser.json"
    if not path.is_file():
        pytest.fail(f"{path} is missing: run `make examples` (make test does) first")
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def example():
    """The example as a module; its one-thread settings are taken back out of os.environ afterwards."""
    saved = dict(os.environ)
    spec = importlib.util.spec_from_file_location("bench_browser", ROOT / "examples" / "bench_browser.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    os.environ.clear()
    os.environ.update(saved)
    return module


def test_the_caption_states_the_jsons_rates(bench) -> None:
    """Catches a caption typed by hand or computed another way: every engine's decode rate at both context
    lengths, its prefill time and the formula appear as the JSON has them, rounded as printed."""
    text = (GENERATED / "browser_caption.txt").read_text()
    r = bench["results"]
    assert r["formula"] in text
    assert set(r["engines"]) == {"exact", "fast", "numpy"}
    for name, by_length in r["engines"].items():
        for p in map(str, r["positions"]):
            assert f"{by_length[p]['decode_tok_s']:.1f}" in text, (name, p)
        assert f"{by_length[str(r['prefill_tokens'])]['prefill_s']:.2f} s" in text, name
    assert ("measured in this build" in text) != bench["replayed"]


def test_the_browser_engine_agrees_with_numpy_within_the_issue_bounds(bench) -> None:
    """Catches an engine whose logits drifted (a kernel change, a wrong scale): exact mode within 1e-3 of
    the NumPy engine's logits at every position, fast mode within 5e-2 (probabilities within 5e-3), the same
    top token at every position of the prompt in both, and exact mode's greedy tokens equal NumPy's."""
    a = bench["results"]["accuracy"]
    assert a["exact"]["max_logit_diff"] <= 1e-3 and a["fast"]["max_logit_diff"] <= 5e-2
    assert a["fast"]["max_prob_diff"] <= 5e-3
    assert a["exact"]["top_token_agreement"] == a["fast"]["top_token_agreement"] == 1.0
    for p in map(str, bench["results"]["positions"]):
        assert bench["results"]["engines"]["exact"][p]["same_tokens_as_numpy"], p


def test_a_build_without_chromium_has_a_record_to_replay_and_says_so(example) -> None:
    """Catches a missing committed record (the page would have no numbers without Chromium) and a replayed
    caption that does not say it was replayed, or from when."""
    rec = latest_record("bench_browser")
    assert rec is not None, "no record under examples/records/bench_browser/: run examples/bench_browser.py --record"
    data = {"environment": rec["environment"], "replayed": True, "results": rec["results"], "wllama": None,
            "targets": example.TARGETS}
    text = example.caption(data)
    assert f"replayed from the committed record of {rec['environment']['date'][:10]}" in text
    assert "measured in this build" not in text
    assert "No record of llama.cpp in WebAssembly" in text
