"""Every python-like block in docs/ is collected by the doc tests, and every skip says why."""

import re
from pathlib import Path

import pytest
from sybil import Document

from tools.doctest_blocks import PYTHON_INFO, BookCodeParser, expand_snippet, python_like_fences

DOCS = Path(__file__).resolve().parent.parent / "docs"
PAGES = sorted(p for p in DOCS.rglob("*.md") if "generated" not in p.parts)


def collected_python_lines(path: Path) -> set[int]:
    text = path.read_text(encoding="utf-8")
    doc = Document(text, str(path))
    regions = BookCodeParser()(doc)
    return {text.count("\n", 0, r.start) + 1 for r in regions if r.evaluator.__name__ == "_exec_python"}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(DOCS).as_posix())
def test_no_python_block_escapes_collection(page):
    text = page.read_text(encoding="utf-8")
    collected = collected_python_lines(page)
    escaped = [(line, info) for line, info in python_like_fences(text) if line not in collected]
    assert not escaped, (
        f"{page.name}: these fences look like Python but would not be run; write ```python: {escaped}")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(DOCS).as_posix())
def test_every_skip_has_a_reason(page):
    text = page.read_text(encoding="utf-8")
    for match in re.finditer(r"<!--\s*skip:\s*(?P<args>[^>]*?)\s*-->", text):
        args = match["args"]
        if args.startswith("next") or args.startswith("start"):
            assert re.search(r'"[^"]+"', args), f"{page.name}: skip without a reason: {match.group(0)}"


def test_lint_catches_escaping_fences(tmp_path):
    page = tmp_path / "bad.md"
    page.write_text("```py\nx = 1\n```\n\n```pycon\n>>> 1\n```\n\n```python title=\"a.py\"\nx = 2\n```\n\n"
                    "```{.python}\nx = 3\n```\n")
    collected = collected_python_lines(page)
    escaped = [info for line, info in python_like_fences(page.read_text()) if line not in collected]
    assert escaped == ["py", "pycon", "{.python}"]


def test_python_info_accepts_titles_only_after_python():
    assert PYTHON_INFO.match('python title="x.py"')
    assert not PYTHON_INFO.match("python3")
    assert not PYTHON_INFO.match("pycon")


def test_expand_snippet_section_and_errors():
    code = expand_snippet("llmbook/layers/attention.py:causal")
    assert code.lstrip().startswith("def causal_mask(")
    with pytest.raises(ValueError, match="section 'nope' not found"):
        expand_snippet("llmbook/layers/attention.py:nope")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        expand_snippet("llmbook/missing.py")
