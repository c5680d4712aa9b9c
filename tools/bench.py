"""Measuring code honestly: repeated timings, peak memory, and benchmark records.

Timings on a shared machine are noisy, so the book reports medians of repeats and
ratios against a reference measured in the same run. GPU benchmarks save a record
(device, versions, date, command, commit, numbers) under ``examples/records/`` so a
build without a GPU can still show the newest measured numbers, labelled as such.
"""

from __future__ import annotations

import datetime as _dt
import json
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from tools.export import log_for_runner

RECORDS = Path(__file__).resolve().parent.parent / "examples" / "records"


def time_call(fn: Callable[[], Any], repeats: int = 5, warmup: int = 1, sync: bool = False) -> dict[str, float]:
    """Run ``fn`` ``warmup`` times, then time ``repeats`` runs; seconds as median, best and all."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        if sync:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        if sync:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return {"median": statistics.median(times), "best": min(times), "all": times}


def best_time(fn: Callable[[], Any], repeats: int) -> float:
    """Seconds of the fastest of ``repeats`` calls (no warm-up call: the first call is one of them)."""
    return time_call(fn, repeats=repeats, warmup=0)["best"]


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], capture_output=True, text=True, cwd=RECORDS.parent, timeout=10)
        return out.stdout.strip() if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def _git_commit() -> str | None:
    """HEAD, with ``+changes`` when tracked files differ from it (the record's code is then not exactly HEAD's)."""
    head = _git("rev-parse", "HEAD")
    dirty = _git("status", "--porcelain", "--untracked-files=no")
    return None if not head else head + ("+changes" if dirty else "")


def cpu_name() -> str:
    """The CPU's model name (Linux), and the architecture: e.g. ``AMD EPYC (x86_64)``."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()} ({platform.machine()})"
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment(device: str = "cpu") -> dict[str, Any]:
    """Where a measurement was taken: device name, versions, date, command and commit."""
    env: dict[str, Any] = {
        "device": device,
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "commit": _git_commit(),
        "cpu": cpu_name(),
        "threads": torch.get_num_threads(),
    }
    if device.startswith("cuda") and torch.cuda.is_available():
        env["device_name"] = torch.cuda.get_device_name()
        env["cuda"] = torch.version.cuda
        try:
            env["driver"] = subprocess.run(
                ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                capture_output=True, text=True, timeout=10).stdout.strip() or None
        except (OSError, subprocess.SubprocessError):
            env["driver"] = None
    else:
        env["device_name"] = env["cpu"]
    return env


def save_record(name: str, results: Any, device: str) -> Path:
    """Write a benchmark record to ``examples/records/<name>/<date>-<device>.json`` (to be committed)."""
    env = environment(device)
    slug = "-".join("".join(c if c.isalnum() else " " for c in env["device_name"]).lower().split())
    path = RECORDS / name / f"{env['date'][:10]}-{slug}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"benchmark": name, "environment": env, "results": results}, indent=1) + "\n")
    return path


def latest_record(name: str) -> dict[str, Any] | None:
    """The newest committed record of benchmark ``name`` (by the date inside it), or None.

    Under ``tools.run_examples`` the folder is logged, so a new record re-runs the example that reads it.
    """
    folder = RECORDS / name
    log_for_runner("LLMBOOK_RECORDS_LOG", name)
    records = [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))] if folder.is_dir() else []
    if not records:
        return None
    return max(records, key=lambda r: r["environment"]["date"])


def matmul_rate(n: int, dtype: torch.dtype = torch.float32, threads: int | None = None, repeats: int = 3,
                device: str = "cpu") -> dict[str, float]:
    """FLOP/s of an (n, n) @ (n, n) torch matmul in ``dtype`` (best and median of ``repeats``), 2n^3 FLOPs."""
    old = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        a = torch.randn(n, n, device=device).to(dtype)
        b = torch.randn(n, n, device=device).to(dtype)
        t = time_call(lambda: a @ b, repeats=repeats, warmup=1, sync=device.startswith("cuda"))
    finally:
        torch.set_num_threads(old)
    flops = 2.0 * n**3
    return {"best": flops / t["best"], "median": flops / t["median"]}


def triad_bandwidth(n: int = 1 << 24, threads: int | None = None, repeats: int = 5,
                    device: str = "cpu") -> dict[str, float]:
    """Bytes/s of the STREAM triad a = b + s·c on float32 vectors of ``n`` (12n bytes counted: read b, c, write a)."""
    old = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        a, b, c = (torch.rand(n, device=device) for _ in range(3))
        t = time_call(lambda: torch.add(b, c, alpha=3.0, out=a), repeats=repeats, warmup=1,
                      sync=device.startswith("cuda"))
    finally:
        torch.set_num_threads(old)
    moved = 12.0 * n
    return {"best": moved / t["best"], "median": moved / t["median"]}
