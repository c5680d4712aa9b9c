"""Where example scripts put figures and widget data for the site.

Everything lands in ``docs/generated/`` (git-ignored), so a page links to
``generated/<name>`` and the browser shows exactly what the Python computed.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
GENERATED = Path(os.environ.get("LLMBOOK_GENERATED", REPO_ROOT / "docs" / "generated"))


def generated_path(name: str) -> Path:
    """Absolute path for a generated file ``name`` (e.g. ``"attention/x.svg"``); parents are created.

    Under ``tools.run_examples`` the name is also logged as one of the running example's outputs.
    """
    path = GENERATED / name
    path.parent.mkdir(parents=True, exist_ok=True)
    log_for_runner("LLMBOOK_OUTPUTS_LOG", name)
    return path


def log_for_runner(variable: str, name: str) -> None:
    """Append ``name`` to the file the environment variable ``variable`` names, if it is set: how an example
    tells ``tools.run_examples`` what it wrote (``LLMBOOK_OUTPUTS_LOG``) or read (``LLMBOOK_RECORDS_LOG``)."""
    log = os.environ.get(variable)
    if log:
        with open(log, "a", encoding="utf-8") as f:
            f.write(name + "\n")


def _check_finite(obj: Any, where: str = "$") -> None:
    if isinstance(obj, float) and not math.isfinite(obj):
        raise ValueError(f"non-finite number {obj!r} at {where}: JSON for the browser must be finite")
    if isinstance(obj, dict):
        for k, v in obj.items():
            _check_finite(v, f"{where}.{k}")
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            _check_finite(v, f"{where}[{i}]")


def write_json(name: str, data: Any) -> Path:
    """Write ``data`` as compact, finite JSON to ``generated/<name>`` and return the path."""
    _check_finite(data)
    path = generated_path(name)
    path.write_text(json.dumps(data, separators=(",", ":"), ensure_ascii=False), encoding="utf-8")
    return path


def save_figure(fig: Any, name: str) -> Path:
    """Save a matplotlib figure reproducibly (no timestamps, fixed SVG ids) to ``generated/<name>``."""
    import matplotlib

    path = generated_path(name)
    with matplotlib.rc_context({"svg.hashsalt": "llmbook", "svg.fonttype": "path"}):
        metadata = {"Date": None} if path.suffix == ".svg" else None
        fig.savefig(path, bbox_inches="tight", metadata=metadata)
    return path
