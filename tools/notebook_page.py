"""An executed notebook as a page of the book: Markdown with its outputs, and the .ipynb to download.

``write_page(nb, stem)`` writes ``docs/generated/notebooks/<stem>.md`` (nbconvert's Markdown
export: markdown cells as they are, code cells as ```python fences, text outputs as code
blocks, figures as PNG files in ``<stem>_files/``) with a download button for
``<stem>.ipynb`` under the notebook's title. Any site builder renders it as an ordinary
page; its math goes through the same ``pymdownx.arithmatex`` as every other page.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat

import tools.export as export

FIGURE_ALT = "A figure drawn by the code cell above"


def markdown(nb: nbformat.NotebookNode, stem: str) -> tuple[str, dict[str, bytes]]:
    """The page's Markdown and its figure files (name relative to the page -> bytes)."""
    from nbconvert import MarkdownExporter

    body, resources = MarkdownExporter().from_notebook_node(
        nb, resources={"unique_key": stem, "output_files_dir": f"{stem}_files"})
    body = re.sub(r"!\[(?:png|jpeg|svg)\]\(", f"![{FIGURE_ALT}](", body)
    button = f'[Download {stem}.ipynb]({stem}.ipynb){{ .md-button download="{stem}.ipynb" }}'
    lines = body.strip("\n").splitlines()
    title = next((i for i, line in enumerate(lines) if line.startswith("# ")), None)
    if title is None:
        raise ValueError(f"notebook {stem} has no '# Title' line in a markdown cell: a page needs one")
    lines[title + 1:title + 1] = ["", button]
    return "\n".join(lines) + "\n", dict(resources.get("outputs", {}))


def write_page(nb: nbformat.NotebookNode, stem: str) -> Path:
    """Write ``notebooks/<stem>.md`` and its figures under docs/generated/ (logged as the example's outputs)."""
    text, figures = markdown(nb, stem)
    shutil.rmtree(export.GENERATED / "notebooks" / f"{stem}_files", ignore_errors=True)  # no stale figures
    for name, data in sorted(figures.items()):
        export.generated_path(f"notebooks/{name}").write_bytes(data)
    page = export.generated_path(f"notebooks/{stem}.md")
    page.write_text(text, encoding="utf-8")
    return page
