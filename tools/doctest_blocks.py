"""Run the book's code blocks: every ```python fence in docs/ and the ```output fence after it.

- A ```python block (info string ``python``, optionally followed by attributes such
  as ``title="x.py"``) is executed in the page's namespace, in page order, with its
  stdout captured.
- An ```output block right after it must equal what that block printed (trailing
  whitespace on each line and trailing blank lines are ignored). Output that depends
  on the interpreter (the corpus is the running Python's own standard library) says
  so in a title the reader sees, ```output title="Printed by Python 3.11 ...": it is
  checked under that version and reported as skipped, with the reason, under others.
- A ```python block made only of snippet lines (``--8<-- "llmbook/x.py:section"``)
  shows code that lives in the package or in examples/; it is expanded exactly as
  pymdownx.snippets would and compiled, not run: the package's own tests run it.
"""

from __future__ import annotations

import contextlib
import difflib
import io
import re
import sys
from pathlib import Path

import pytest

from sybil import Example, Region
from sybil.parsers.markdown.lexers import RawFencedCodeBlockLexer

REPO_ROOT = Path(__file__).resolve().parent.parent
PYTHON_INFO = re.compile(r"^python(?:\s+.*)?$")
SNIPPET_LINE = re.compile(r'^\s*--8<--\s+"(?P<target>[^"]+)"\s*$')
OUTPUT_INFO = re.compile(r'^output(?:\s+title="(?P<title>[^"]*)")?$')
PYTHON_VERSION = re.compile(r"\bPython (?P<version>3\.\d+)\b")
STDOUT_KEY = "__llmbook_stdout__"


class OutputBlock(str):
    """The text of an ```output block, and the Python version it was printed by, if it names one."""

    python: str | None = None


def _normalise(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines()).rstrip()


def expand_snippet(target: str) -> str:
    """Text that ``--8<-- "target"`` inserts: a whole file, or ``path:section`` between markers."""
    path_text, _, section = target.partition(":")
    path = REPO_ROOT / path_text
    if not path.is_file():
        raise FileNotFoundError(f"snippet target {path_text!r} does not exist")
    lines = path.read_text(encoding="utf-8").splitlines()
    if not section:
        return "\n".join(lines)
    start = re.compile(rf"--8<--\s*\[start:{re.escape(section)}\]")
    end = re.compile(rf"--8<--\s*\[end:{re.escape(section)}\]")
    out: list[str] = []
    inside = found = False
    for line in lines:
        if start.search(line):
            inside = found = True
            continue
        if end.search(line):
            inside = False
            continue
        if inside:
            out.append(line)
    if not found:
        raise ValueError(f"snippet section {section!r} not found in {path_text}")
    return "\n".join(out)


def _exec_python(example: Example) -> None:
    source = str(example.parsed)
    lines = [line for line in source.splitlines() if line.strip()]
    filename = f"{example.path}"
    if lines and all(SNIPPET_LINE.match(line) for line in lines):
        shown = "\n".join(expand_snippet(SNIPPET_LINE.match(line)["target"]) for line in lines)
        compile(shown, filename, "exec")
        example.namespace.pop(STDOUT_KEY, None)
        return
    # pad so tracebacks point at the page's own line numbers
    code = compile("\n" * example.line + source, filename, "exec")
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        exec(code, example.namespace)
    example.namespace[STDOUT_KEY] = buffer.getvalue()


def _check_output(example: Example) -> None:
    if STDOUT_KEY not in example.namespace:
        raise AssertionError(
            f"{example.path}, line {example.line}: an ```output block must directly follow "
            "the ```python block whose printed output it shows"
        )
    got = _normalise(example.namespace.pop(STDOUT_KEY))
    version = getattr(example.parsed, "python", None)
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    if version is not None and version != running:
        pytest.skip(f"{example.path}, line {example.line}: the page shows what Python {version} prints "
                    f"(its title says why); this is Python {running}, and the block ran without error")
    want = _normalise(str(example.parsed))
    if got != want:
        diff = "\n".join(difflib.unified_diff(
            want.splitlines(), got.splitlines(), "shown in the page", "printed by the code", lineterm=""))
        raise AssertionError(f"printed output differs from the page:\n{diff}")


class BookCodeParser:
    """Sybil parser yielding a region per ```python and ```output fence."""

    def __init__(self) -> None:
        self.lexer = RawFencedCodeBlockLexer(
            info_pattern=re.compile(r"(?P<info>[^\n]*)$\n", re.MULTILINE),
            mapping={"info": "info", "source": "source"},
        )

    def __call__(self, document):  # -> Iterable[Region]
        previous_python = False
        for lexed in self.lexer(document):
            info = lexed.lexemes["info"].strip()
            source = lexed.lexemes["source"]
            if PYTHON_INFO.match(info):
                previous_python = True
                yield Region(lexed.start, lexed.end, source, _exec_python)
            elif match := OUTPUT_INFO.match(info):
                block = OutputBlock(source)
                if match["title"] and (named := PYTHON_VERSION.search(match["title"])):
                    block.python = named["version"]
                yield Region(lexed.start, lexed.end, block, _check_output)
                previous_python = False
            else:
                previous_python = False


def python_like_fences(text: str) -> list[tuple[int, str]]:
    """(line, info) of every fence whose info string names Python in any spelling."""
    found = []
    for match in re.finditer(r"^[ \t>]*(`{3,}|~{3,})[ \t]*(?P<info>[^\n`]*)$", text, re.MULTILINE):
        info = match["info"].strip()
        head = re.split(r"[\s{}.,]+", info.lstrip("{. "))[0].lower() if info else ""
        if head in {"py", "py3", "python", "python3", "pycon", "pytb", "ipython", "ipython3", "pyi", "pyodide"}:
            line = text.count("\n", 0, match.start()) + 1
            found.append((line, info))
    return found
