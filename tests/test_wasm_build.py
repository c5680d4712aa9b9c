"""The committed kernels.wasm is what kernels.wat builds with the pinned wabt (package-lock.json).

The browser runs the .wasm; people read and edit the .wat. This test rebuilds the module from
the source with `node tools/build_wasm.mjs --check` and fails if the bytes differ, so an edit to
the source that was not rebuilt (or a .wasm edited by hand) cannot reach the site.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_committed_wasm_is_built_from_the_wat() -> None:
    """Catches a kernels.wat edit without a rebuilt kernels.wasm (the browser would run old kernels)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm are not on PATH: kernels.wasm cannot be rebuilt here to compare")
    if not (ROOT / "node_modules" / "wabt" / "package.json").is_file():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=ROOT, check=True, capture_output=True, timeout=300)
    proc = subprocess.run([node, "tools/build_wasm.mjs", "--check"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert "matches" in proc.stdout
