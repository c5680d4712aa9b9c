"""The package is laid out like the book: every module sits in a part's subpackage or is an entry point."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "llmbook"
PARTS = {"tokenizer", "layers", "models", "inference", "training", "alignment", "hardware"}
ENTRY_POINTS = {"__init__.py", "__main__.py", "cli.py"}


def test_every_module_sits_in_a_part_of_the_book() -> None:
    top = {p.name for p in PACKAGE.iterdir() if p.suffix == ".py"}
    assert top <= ENTRY_POINTS, f"modules outside a part's subpackage: {sorted(top - ENTRY_POINTS)}"
    subpackages = {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert subpackages <= PARTS, f"subpackages not named after a part of the book: {sorted(subpackages - PARTS)}"
    for sub in subpackages:
        assert (PACKAGE / sub / "__init__.py").is_file(), f"llmbook/{sub} has no __init__.py"


def _imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_the_package_never_imports_the_build_tools_or_writes_docs() -> None:
    for path in sorted(PACKAGE.rglob("*.py")):
        bad = {m for m in _imported_modules(path) if m.split(".")[0] == "tools"}
        assert not bad, f"{path.relative_to(ROOT)} imports book machinery {sorted(bad)}"
        assert '"docs"' not in path.read_text(), f"{path.relative_to(ROOT)} names the docs folder"


def test_no_two_functions_share_a_name() -> None:
    """A name means one job: no module-level function or class is defined twice in the package."""
    seen: dict[str, str] = {}
    clashes = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not node.name.startswith("_"):
                where = path.relative_to(ROOT).as_posix()
                if node.name in seen and node.name not in {"main"}:
                    clashes.append(f"{node.name}: {seen[node.name]} and {where}")
                seen.setdefault(node.name, where)
    assert not clashes, clashes


def test_entry_points(smollm) -> None:
    """The three names a reader meets first work after a bare ``import llmbook``."""
    import llmbook

    assert llmbook.load_model is llmbook.models.llama.load_model
    assert llmbook.generate(smollm, "The capital of France is", max_new_tokens=5).text.startswith(" Paris")
    assert llmbook.tokenizer.load("cl100k_base").encode("Hello world") == [9906, 1917]


def test_contributing_maps_every_part_to_its_chapter() -> None:
    """docs/contributing.md's table names every subpackage, so a newcomer finds a chapter's code."""
    text = (ROOT / "docs" / "contributing.md").read_text()
    parts = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file())
    missing = [p for p in parts if f"`llmbook/{p}/`" not in text]
    assert not missing, f"docs/contributing.md does not map these subpackages to a chapter: {missing}"
