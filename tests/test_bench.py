"""Benchmark helpers: timings and the GPU-record pipeline (save, then replay the newest)."""

import json

import tools.bench as bench


def test_time_call_times_only_the_repeats_and_summarises_them(monkeypatch):
    clock = [0.0]
    durations = iter([7.0, 7.0, 3.0, 1.0, 2.0, 5.0])  # two warm-up runs, then four timed ones
    monkeypatch.setattr(bench.time, "perf_counter", lambda: clock[0])

    def fn():
        clock[0] += next(durations)

    t = bench.time_call(fn, repeats=4, warmup=2)
    assert t == {"all": [3.0, 1.0, 2.0, 5.0], "best": 1.0, "median": 2.5}


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
