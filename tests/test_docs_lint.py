"""Every python-like block in docs/ is collected by the doc tests, every skip says why, and every
snippet marker in the package is shown by a page (and every page's include names a marker that exists)."""

import re
from pathlib import Path

import pytest
from sybil import Document

from tools.doctest_blocks import PYTHON_INFO, BookCodeParser, expand_snippet, python_like_fences

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
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


MARKER = re.compile(r"--8<--\s*\[(?P<kind>start|end):(?P<name>[^\]\s]*)\]")
INCLUDE = re.compile(r'^\s*--8<--\s+"(?P<path>[^":]+):(?P<name>[^"]+)"\s*$', re.MULTILINE)


def snippet_problems(root: Path, package: str, pages: list[Path]) -> list[str]:
    """What is wrong with the snippet markers under ``root/package`` and the includes in ``pages``."""
    problems: list[str] = []
    sections: dict[str, set[str]] = {}  # file (relative to root) -> its section names
    for path in sorted((root / package).rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        open_names: list[str] = []
        names = sections.setdefault(rel, set())
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            m = MARKER.search(line)
            if m is None:
                continue
            if m["kind"] == "start":
                if m["name"] in names:
                    problems.append(f"{rel}:{number}: a second [start:{m['name']}]")
                names.add(m["name"])
                open_names.append(m["name"])
            elif m["name"] in open_names:
                open_names.remove(m["name"])
            else:
                problems.append(f"{rel}:{number}: [end:{m['name']}] without a [start:{m['name']}] before it")
        problems += [f"{rel}: [start:{name}] is never ended" for name in open_names]
    included: set[tuple[str, str]] = set()
    for page in pages:
        for m in INCLUDE.finditer(page.read_text(encoding="utf-8")):
            included.add((m["path"], m["name"]))
            target = root / m["path"]
            if m["path"] not in sections and target.is_file():  # outside the package: read its markers
                sections[m["path"]] = {n["name"] for n in MARKER.finditer(target.read_text(encoding="utf-8"))
                                       if n["kind"] == "start"}
            if m["name"] not in sections.get(m["path"], set()):
                problems.append(f"{page.name}: includes {m['path']}:{m['name']}, which has no such section")
    for rel in sorted(sections):
        if rel.startswith(f"{package}/"):
            problems += [f"{rel}: [start:{name}] is included by no page: show it or drop the marker"
                         for name in sorted(sections[rel]) if (rel, name) not in included]
    return problems


def test_every_snippet_marker_is_shown_and_every_include_exists():
    """Catches a marker no page shows, a [start:x] without its [end:x], and an include of a missing section."""
    assert snippet_problems(ROOT, "llmbook", PAGES) == []


def test_snippet_lint_catches_stray_unended_and_missing(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "m.py").write_text(
        "# --8<-- [start:shown]\nx = 1\n# --8<-- [end:shown]\n# --8<-- [start:stray]\ny = 2\n"
        "# --8<-- [end:stray]\n# --8<-- [start:open]\n# --8<-- [end:nowhere]\n")
    page = tmp_path / "page.md"
    page.write_text('```python\n--8<-- "pkg/m.py:shown"\n--8<-- "pkg/m.py:gone"\n```\n')
    assert snippet_problems(tmp_path, "pkg", [page]) == [
        "pkg/m.py:8: [end:nowhere] without a [start:nowhere] before it",
        "pkg/m.py: [start:open] is never ended",
        "page.md: includes pkg/m.py:gone, which has no such section",
        "pkg/m.py: [start:open] is included by no page: show it or drop the marker",
        "pkg/m.py: [start:stray] is included by no page: show it or drop the marker",
    ]


def test_generated_pages_are_not_doc_tests():
    """Catches a pattern that lets sybil collect docs/generated/ (the notebook pages, whose cells run
    in the notebook, not as page blocks: "%matplotlib inline" failed as Python there) while still
    collecting every chapter."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("root_conftest", ROOT / "conftest.py")
    book = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(book)
    docs = (ROOT / "docs").resolve()
    for generated in ("generated/a.md", "generated/notebooks/a.md", "generated/x/y/a.md"):
        assert not book.BOOK.should_parse(docs / generated), generated
    for chapter in sorted(docs.glob("*.md")):
        assert book.BOOK.should_parse(chapter), chapter.name
