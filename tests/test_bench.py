"""Benchmark helpers: timings and the GPU-record pipeline (save, then replay the newest)."""

import json

import tools.bench as bench


def test_time_call_counts_runs_and_orders_stats():
    calls = []
    t = bench.time_call(lambda: calls.append(1), repeats=4, warmup=2)
    assert len(calls) == 6 and len(t["all"]) == 4
    assert t["best"] <= t["median"]


def test_save_then_latest_record(tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "RECORDS", tmp_path)
    assert bench.latest_record("bench_x") is None
    path = bench.save_record("bench_x", [{"T": 1, "ms": 2.0}], "cpu")
    saved = json.loads(path.read_text())
    assert saved["benchmark"] == "bench_x" and saved["results"] == [{"T": 1, "ms": 2.0}]
    for key in ("device", "device_name", "date", "torch", "command", "commit"):
        assert key in saved["environment"]
    older = dict(saved, environment=dict(saved["environment"], date="2001-01-01T00:00:00Z"), results=[])
    (tmp_path / "bench_x" / "0000-older.json").write_text(json.dumps(older))
    assert bench.latest_record("bench_x")["results"] == [{"T": 1, "ms": 2.0}]
