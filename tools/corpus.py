"""A real text corpus that needs no download: CPython's own standard library.

The corpus is every ``.py`` file under the base interpreter's stdlib directory
(tests included, ``site-packages`` excluded), which also brings in
``pydoc_data/topics.py``, the text of the language reference's help topics: code,
comments and English (the tokens chapter prints how many files and characters).

A few files are deliberately not UTF-8 (they test Python's source-encoding
support); they are skipped, so every text here is exactly its file's UTF-8.
"""

from __future__ import annotations

import functools
import sysconfig
from collections.abc import Iterator
from pathlib import Path

STDLIB = Path(sysconfig.get_paths()["stdlib"])


@functools.cache
def stdlib_files() -> tuple[Path, ...]:
    """The corpus files, sorted by path: stdlib ``.py`` files that decode as UTF-8."""
    files = []
    for path in sorted(STDLIB.rglob("*.py")):
        if "site-packages" in path.relative_to(STDLIB).parts:
            continue
        try:
            path.read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            continue  # the 4 files that test legacy source encodings
        files.append(path)
    return tuple(files)


def stdlib_documents() -> Iterator[tuple[str, str]]:
    """``(name, text)`` for each corpus file; ``name`` is the path relative to the stdlib."""
    for path in stdlib_files():
        # bytes → str ourselves: read_text would turn "\r\n" into "\n"
        yield path.relative_to(STDLIB).as_posix(), path.read_bytes().decode("utf-8")


def stdlib_text(limit: int | None = None) -> str:
    """All corpus files concatenated in path order, cut to the first ``limit`` characters."""
    parts: list[str] = []
    size = 0
    for _, text in stdlib_documents():
        if limit is not None and size + len(text) >= limit:
            parts.append(text[: limit - size])
            break
        parts.append(text)
        size += len(text)
    return "".join(parts)
