"""The package is laid out like the book: every module sits in a part's subpackage or is an entry point."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "llmbook"
PARTS = ("tokenizer", "layers", "models", "inference", "interpret", "training", "alignment", "hardware", "limits")  # book order
ENTRY_POINTS = {"__init__.py", "__main__.py", "cli.py"}
SHARED = {"checks.py"}  # argument checks every part uses; it imports no part


def test_every_module_sits_in_a_part_of_the_book() -> None:
    top = {p.name for p in PACKAGE.iterdir() if p.suffix == ".py"}
    assert top <= ENTRY_POINTS | SHARED, f"modules outside a part's subpackage: {sorted(top - ENTRY_POINTS - SHARED)}"
    subpackages = {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert subpackages <= set(PARTS), f"subpackages not named after a part of the book: {sorted(subpackages - PARTS)}"
    for sub in subpackages:
        assert (PACKAGE / sub / "__init__.py").is_file(), f"llmbook/{sub} has no __init__.py"


def _all_imports(path: Path) -> set[str]:
    """Every module ``path`` imports, at the top, inside functions or under TYPE_CHECKING: names like
    ``llmbook.layers.kv_cache``, and for ``from llmbook.layers import x`` also ``llmbook.layers.x``."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def part_violations(path: Path, imports: set[str]) -> list[str]:
    """The imports of a module of part P that name a part after P (or of the shared module that name any part)."""
    where = path.relative_to(PACKAGE).parts
    own = PARTS.index(where[0]) if len(where) > 1 else None
    bad = []
    for name in sorted(imports):
        bits = name.split(".")
        if bits[0] != "llmbook" or len(bits) < 2 or bits[1] not in PARTS:
            continue
        if (own is None and where[0] in SHARED) or (own is not None and PARTS.index(bits[1]) > own):
            bad.append(name)
    return bad


def test_imports_follow_the_order_of_the_parts() -> None:
    """A module imports only its own part and earlier ones (tokenizer before layers before models ...), so the book
    can be read front to back. Catches, e.g., a layer importing the KV cache from ``inference``, or inference
    importing ``hardware`` to build a packed engine."""
    assert PARTS == __import__("llmbook").PARTS
    bad = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.relative_to(PACKAGE).parts[0] in ENTRY_POINTS:
            continue  # the command line and the top-level shortcuts may use every part
        bad += [f"{path.relative_to(ROOT)} imports {m}" for m in part_violations(path, _all_imports(path))]
    assert not bad, "imports against the order of the parts:\n" + "\n".join(bad)


def test_the_import_order_check_finds_a_backward_import() -> None:
    """The checker itself: a layer importing inference, or the shared checks importing a part, is reported;
    importing an earlier part is not."""
    layer, shared = PACKAGE / "layers" / "x.py", PACKAGE / "checks.py"
    assert part_violations(layer, {"llmbook.inference.kv_cache", "llmbook.tokenizer.core", "torch"}) == [
        "llmbook.inference.kv_cache"]
    assert part_violations(shared, {"llmbook.models.inputs"}) == ["llmbook.models.inputs"]
    assert part_violations(PACKAGE / "hardware" / "x.py", {"llmbook.training.flops", "llmbook.checks"}) == []


def _nav_pages(items: list) -> list[str]:
    pages = []
    for item in items:
        value = next(iter(item.values())) if isinstance(item, dict) else item
        pages += _nav_pages(value) if isinstance(value, list) else [value]
    return pages


def test_the_menu_and_the_reading_order_agree() -> None:
    """The home page's reading order lists the chapters in the order of the menu (mkdocs.yml's nav), so a reader
    following either meets each page at the same point. Catches a page moved in one and not the other."""
    import re

    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)  # !ENV and other tags
    nav = _nav_pages(yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=Loader)["nav"])
    index = (ROOT / "docs" / "index.md").read_text()
    section = index.split("### Reading order", 1)[1].split("\n## ", 1)[0]
    items = re.split(r"\n(?=\d+\. )", section.split("\n\n1. ", 1)[1].split("\n\n", 1)[0])  # "1. ..." to a blank line
    order = [m for item in items for m in re.findall(r"\]\(([^)#]+\.(?:md|ipynb))", item)]
    assert order, "docs/index.md has no numbered reading order"
    in_menu = [p for p in nav if p in order]
    assert in_menu == order, f"reading order {order} differs from the menu's {in_menu}"
    chapters = [p for p in nav if p not in {"index.md", "playground.md", "faq.md", "notation.md", "further-reading.md",
                                             "contributing.md"}]
    missing = [p for p in chapters if p not in order]
    assert not missing, f"pages in the menu but not in the reading order: {missing}"


def test_the_package_never_imports_the_build_tools_or_writes_docs() -> None:
    for path in sorted(PACKAGE.rglob("*.py")):
        bad = {m for m in _all_imports(path) if m.split(".")[0] == "tools"}
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
