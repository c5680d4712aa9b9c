"""The committed wllama record (llama.cpp in WebAssembly, one thread) and the tool that makes it.

Neither needs wllama installed: the record is checked as committed, and the tool is run against an
empty package folder, where it must stop with the line that says how to install it.
"""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pytest

from llmbook.models.registry import model_path
from tools.bench import latest_record
from tools.bench_wllama import INSTALL, MODEL, POSITIONS, check_results

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def record() -> dict:
    rec = latest_record("bench_wllama")
    assert rec is not None, "no committed record under examples/records/bench_wllama/"
    return rec


def test_record_has_every_field_with_sane_values(record):
    r = record["results"]
    check_results(r)
    assert record["benchmark"] == "bench_wllama"
    assert r["threads"] == 1 and "single-thread" in r["build"]
    assert r["chromium"] and r["prompt_ids_source"]
    model = model_path(MODEL)
    assert (r["file"], r["bytes"]) == (model.name, model.stat().st_size)
    assert set(r["decode_tok_s"]) == {str(n) for n in POSITIONS}
    assert all(rate > 0 for rate in r["decode_tok_s"].values())
    assert r["prefill_32_s"] > 0
    assert r["requests"] and all(u.startswith(("/", "blob:", "data:")) for u in r["requests"]), r["requests"]
    assert "/wllama/esm/wasm/wllama.wasm" in r["requests"]


@pytest.mark.parametrize("damage", ["drop threads", "drop decode 512", "two threads", "multi-thread build",
                                    "negative rate", "prefill not the best"])
def test_a_damaged_record_is_refused(record, damage):
    r = copy.deepcopy(record["results"])
    if damage == "drop threads":
        del r["threads"]
    elif damage == "drop decode 512":
        del r["decode_tok_s"]["512"]
    elif damage == "two threads":
        r["threads"] = 2
    elif damage == "multi-thread build":
        r["build"] = "multi-thread"
    elif damage == "negative rate":
        r["decode_tok_s"]["32"] = -1.0
    else:
        r["prefill_32_s"] = max(r["raw"]["prefill_32_s"]) + 1.0
    with pytest.raises(ValueError):
        check_results(r)


def test_missing_package_says_how_to_install(tmp_path):
    out = subprocess.run([sys.executable, "-m", "tools.bench_wllama", "--package", str(tmp_path)],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode != 0
    assert INSTALL in out.stderr and "npm install --no-save @wllama/wllama@3.13.0" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
