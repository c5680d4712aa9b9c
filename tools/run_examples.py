"""Run the example scripts that make the book's figures, widget data and notebooks.

    python -m tools.run_examples [--force] [NAME ...]

- ``examples/*.py`` (not starting with ``_``) are run as scripts from the repo root.
- ``examples/notebooks/*.py`` (jupytext percent format) are executed into
  ``docs/generated/notebooks/<name>.ipynb``, and written as the page
  ``<name>.md`` with their outputs and a download button (``tools.notebook_page``).

Each is re-run only when its content hash changed: the hash covers the script,
the source of every ``llmbook`` and ``tools`` module it imported last time, the
lock file, and the committed records it read last time (``examples/records/``).
A failing example stops the build and names the example.

Order, on a 2-core machine: the examples that time nothing run ``SLOTS`` at a time,
one thread each (two processes with two threads each on two cores run several times
slower), the longest first (by the last run's time, else in the order of ``LONG``),
so both lanes end together; each one's output is shown when it ends. A lone stale
example gets every thread. Examples that measure speed (``bench_*`` and those in
``TIMED``) run last, alone, one after another, so nothing else shares the machine while
they time. Each example's output files are the ones it asked ``tools.export`` for.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
NOTEBOOKS = EXAMPLES / "notebooks"
GENERATED = Path(os.environ.get("LLMBOOK_GENERATED", ROOT / "docs" / "generated"))  # as tools.export
CACHE = ROOT / ".cache" / "examples"
SLOTS = 2  # examples at once (one thread each): the build machines have two cores
LONG = ("align_run", "interpret", "train_tiny", "decoding_comparator", "train_bf16", "tokens_chapter",
        "train_ablations", "lora_instruct")  # started first on a cold build, when no last run's time is known
TIMED = ("hardware_roofline",)  # measures speed, like the bench_* scripts: runs alone
ONE_THREAD = {v: "1" for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}


def discover() -> list[Path]:
    scripts = sorted(p for p in EXAMPLES.glob("*.py") if not p.name.startswith("_"))
    notebooks = sorted(p for p in NOTEBOOKS.glob("*.py") if not p.name.startswith("_"))
    return scripts + notebooks


def label(script: Path) -> str:
    """How an example is named in messages: ``examples/<name>.py``."""
    return script.relative_to(EXAMPLES.parent).as_posix()


def content_hash(script: Path, modules: list[str], records: list[str] = ()) -> str:
    """Hash of the script, the lock file, the ``llmbook``/``tools`` modules (repo-relative paths) it imported
    and every file in the ``examples/records/<name>`` folders it read with ``tools.bench.latest_record``."""
    h = hashlib.sha256()
    if script.parent.name == "notebooks":  # its page is written by tools.notebook_page: a cache from before counts as stale
        modules = sorted({*modules, "tools/notebook_page.py"})
    saved = [p for name in sorted(records) for p in sorted((EXAMPLES / "records" / name).glob("*.json"))]
    for name, path in [(label(script), script), ("requirements.lock", ROOT / "requirements.lock"),
                       *((m, ROOT / m) for m in sorted(modules)), *((p.name, p) for p in saved)]:
        h.update(name.encode())
        h.update(path.read_bytes() if path.exists() else b"<missing>")
    return h.hexdigest()


def _stem(script: Path) -> str:
    return script.relative_to(EXAMPLES).as_posix().replace("/", "__")


def cache_file(script: Path) -> Path:
    return CACHE / (_stem(script) + ".json")


def is_fresh(script: Path) -> bool:
    entry = cache_file(script)
    if not entry.exists():
        return False
    record = json.loads(entry.read_text())
    outputs_present = all((GENERATED / o).exists() for o in record["outputs"])
    return outputs_present and record["hash"] == content_hash(script, record["modules"], record.get("records", []))


def measures_speed(script: Path) -> bool:
    return script.stem.startswith("bench_") or script.stem in TIMED


def scratch(script: Path) -> dict[str, Path]:
    """Where a run of ``script`` leaves what it imported, wrote and read (see ``tools.example_shim`` and
    ``tools.export.log_for_runner``), and its output when it runs in the background."""
    stem = _stem(script)
    return {k: CACHE / f"{stem}.{k}" for k in ("modules.json", "outputs.txt", "records.txt", "log")}


def start(script: Path, env: dict[str, str], background: bool = False) -> subprocess.Popen:
    """Start one example in a fresh interpreter; in the background its output goes to a log, shown by ``finish``."""
    files = scratch(script)
    for f in files.values():
        f.unlink(missing_ok=True)
    env = dict(os.environ, **env, MPLBACKEND="Agg", PYTHONPATH=str(ROOT), TIKTOKEN_CACHE_DIR="",
               LLMBOOK_OUTPUTS_LOG=str(files["outputs.txt"]), LLMBOOK_RECORDS_LOG=str(files["records.txt"]))
    cmd = [sys.executable, "-m", "tools.example_shim", str(script), str(files["modules.json"])]
    if not background:
        return subprocess.Popen(cmd, cwd=ROOT, env=env)
    with open(files["log"], "w") as out:  # the child keeps its own handle on the file
        return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


def lines(path: Path) -> list[str]:
    return sorted(set(path.read_text().split())) if path.exists() else []


def finish(script: Path, proc: subprocess.Popen, t0: float) -> None:
    """Wait for an example, fail the build if it failed, and cache what it imported, wrote and read."""
    code = proc.wait()
    files = scratch(script)
    if files["log"].exists():
        print(files["log"].read_text(), end="", flush=True)
    if code != 0:
        raise SystemExit(f"\nexample {label(script)} failed (exit {code}); see its output above")
    modules, records = json.loads(files["modules.json"].read_text()), lines(files["records.txt"])
    outputs = lines(files["outputs.txt"])
    elapsed = time.perf_counter() - t0
    record = {"hash": content_hash(script, modules, records), "modules": modules, "outputs": outputs,
              "records": records, "seconds": round(elapsed, 2)}
    cache_file(script).write_text(json.dumps(record, indent=1))
    print(f"{label(script)}: done in {elapsed:.1f} s, wrote {len(outputs)} file(s)", flush=True)


def last_seconds(script: Path) -> float | None:
    entry = cache_file(script)
    return json.loads(entry.read_text()).get("seconds") if entry.exists() else None


def longest_first(scripts: list[Path]) -> list[Path]:
    """By the last run's time where known; with none known, the ``LONG`` ones first, in that order."""
    def estimate(s: Path) -> float:
        known = last_seconds(s)
        if known is not None:
            return known
        return 1e6 - LONG.index(s.stem) if s.stem in LONG else 0.0
    return sorted(scripts, key=estimate, reverse=True)


def run_lanes(scripts: list[Path]) -> None:
    """Run ``scripts`` ``SLOTS`` at a time, one thread each, the longest first; a failure stops the others."""
    queue, running = longest_first(scripts), []  # running: (script, process, start time)
    try:
        while queue or running:
            while queue and len(running) < SLOTS:
                script = queue.pop(0)
                print(f"{label(script)}: running, one thread (its output follows when it ends)", flush=True)
                running.append((script, start(script, ONE_THREAD, background=True), time.perf_counter()))
            ended = next((r for r in running if r[1].poll() is not None), None)
            if ended is None:
                time.sleep(0.1)
                continue
            running.remove(ended)
            finish(*ended)
    finally:
        for _, proc, _ in running:  # one failed: stop the rest too
            proc.kill()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="only these examples (file stems)")
    parser.add_argument("--force", action="store_true", help="re-run even when cached")
    args = parser.parse_args(argv)

    CACHE.mkdir(parents=True, exist_ok=True)
    GENERATED.mkdir(parents=True, exist_ok=True)
    scripts = [s for s in discover() if not args.names or s.stem in args.names]
    unknown = set(args.names) - {s.stem for s in scripts}
    if unknown:
        print(f"no such example: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    total = len(scripts)
    start_all = time.perf_counter()
    stale = [s for s in scripts if args.force or not is_fresh(s)]
    for s in scripts:
        if s not in stale:
            print(f"{label(s)}: unchanged, cached", flush=True)
    lanes = [s for s in stale if not measures_speed(s)]
    timed = [s for s in stale if measures_speed(s)]
    if len(lanes) == 1:
        print(f"{label(lanes[0])}: running ...", flush=True)
        finish(lanes[0], start(lanes[0], {}), time.perf_counter())
    elif lanes:
        run_lanes(lanes)
    for script in timed:
        print(f"{label(script)}: running alone ...", flush=True)
        finish(script, start(script, {}), time.perf_counter())
    print(f"examples: {total} up to date in {time.perf_counter() - start_all:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
