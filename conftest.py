"""Collect every code block in docs/*.md as a test (sybil), run in page order."""

import os

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("TIKTOKEN_CACHE_DIR", "")  # never let tiktoken write or fetch a cache

from sybil import Sybil  # noqa: E402
from sybil.parsers.markdown import SkipParser  # noqa: E402

from tools.doctest_blocks import BookCodeParser  # noqa: E402

# Path.match reads a pattern from the right and "**" as "*", so "generated/**" would exclude only
# files directly in docs/generated/: name each depth (the notebook pages sit two levels down).
BOOK = Sybil(
    parsers=[BookCodeParser(), SkipParser()],
    path="docs",
    patterns=["*.md"],
    excludes=["generated/*", "generated/*/*", "generated/*/*/*", "generated/*/*/*/*"],
)
pytest_collect_file = BOOK.pytest()
