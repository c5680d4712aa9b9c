"""The one model benchmark (examples/bench_engines.py): one measurement, one number in every chapter."""

import json
from pathlib import Path

import pytest

GENERATED = Path(__file__).resolve().parent.parent / "docs" / "generated" / "bench"
CHAPTERS = ("real_model", "generation", "decode")  # the captions of real-model, generation and hardware


@pytest.fixture(scope="module")
def bench() -> dict:
    path = GENERATED / "model.json"
    if not path.is_file():
        pytest.fail(f"{path} is missing: run `make examples` (make test does) first")
    return json.loads(path.read_text())


def test_every_chapter_prints_the_same_decode_speed(bench) -> None:
    """Catches chapters that compute decode speed their own way (three scripts once printed three numbers
    for one engine in one build): each caption states the one formula and the JSON's rates, as rounded."""
    live = bench["live"]
    assert live["formula"] == "decode tokens/s = (n - 1) / (time(n) - time(1))"
    for name in CHAPTERS:
        text = (GENERATED / f"{name}_caption.txt").read_text()
        assert live["formula"] in text, name
        for engine in ("numpy", "transformers"):
            assert f"{live['decode'][engine]:.1f}" in text, (name, engine)
    for name in ("real_model", "generation"):
        assert f"{live['decode']['torch']:.1f}" in (GENERATED / f"{name}_caption.txt").read_text(), name
