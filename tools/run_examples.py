"""Run the example scripts that make the book's figures, widget data and notebooks.

    python -m tools.run_examples [--force] [NAME ...]

- ``examples/*.py`` (not starting with ``_``) are run as scripts from the repo root.
- ``examples/notebooks/*.py`` (jupytext percent format) are executed into
  ``docs/generated/notebooks/<name>.ipynb`` for mkdocs-jupyter to render.

Each is re-run only when its content hash changed: the hash covers the script,
the source of every ``llmbook`` module it imported last time, and the lock file.
A failing example stops the build and names the example.
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


def discover() -> list[Path]:
    scripts = sorted(p for p in EXAMPLES.glob("*.py") if not p.name.startswith("_"))
    notebooks = sorted(p for p in NOTEBOOKS.glob("*.py") if not p.name.startswith("_"))
    return scripts + notebooks


def label(script: Path) -> str:
    """How an example is named in messages: ``examples/<name>.py``."""
    return script.relative_to(EXAMPLES.parent).as_posix()


def content_hash(script: Path, modules: list[str]) -> str:
    """Hash of the script, the lock file and the ``llmbook`` modules (repo-relative paths) it imported."""
    h = hashlib.sha256()
    for name, path in [(label(script), script), ("requirements.lock", ROOT / "requirements.lock"),
                       *((m, ROOT / m) for m in sorted(modules))]:
        h.update(name.encode())
        h.update(path.read_bytes() if path.exists() else b"<missing>")
    return h.hexdigest()


def cache_file(script: Path) -> Path:
    return CACHE / (script.relative_to(EXAMPLES).as_posix().replace("/", "__") + ".json")


def is_fresh(script: Path) -> bool:
    entry = cache_file(script)
    if not entry.exists():
        return False
    record = json.loads(entry.read_text())
    outputs_present = all((GENERATED / o).exists() for o in record["outputs"])
    return outputs_present and record["hash"] == content_hash(script, record["modules"])


def snapshot() -> dict[str, float]:
    return {p.relative_to(GENERATED).as_posix(): p.stat().st_mtime for p in GENERATED.rglob("*") if p.is_file()}


def run_one(script: Path) -> tuple[list[str], list[str]]:
    """Run one example in a fresh interpreter; return (llmbook modules it imported, files it wrote)."""
    manifest = CACHE / "last-modules.json"
    before = snapshot()
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONPATH=str(ROOT), TIKTOKEN_CACHE_DIR="")
    cmd = [sys.executable, "-m", "tools.example_shim", str(script), str(manifest)]
    proc = subprocess.run(cmd, cwd=ROOT, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"\nexample {label(script)} failed (exit {proc.returncode}); see its output above")
    modules = json.loads(manifest.read_text())
    after = snapshot()
    outputs = sorted(name for name, mtime in after.items() if before.get(name) != mtime)
    return modules, outputs


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
    for i, script in enumerate(scripts, 1):
        name = label(script)
        if not args.force and is_fresh(script):
            print(f"[{i}/{total}] {name}: unchanged, cached", flush=True)
            continue
        print(f"[{i}/{total}] {name}: running ...", flush=True)
        t0 = time.perf_counter()
        modules, outputs = run_one(script)
        elapsed = time.perf_counter() - t0
        record = {"hash": content_hash(script, modules), "modules": modules, "outputs": outputs,
                  "seconds": round(elapsed, 2)}
        cache_file(script).write_text(json.dumps(record, indent=1))
        print(f"[{i}/{total}] {name}: done in {elapsed:.1f} s, wrote {len(outputs)} file(s)", flush=True)
    print(f"examples: {total} up to date in {time.perf_counter() - start_all:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
