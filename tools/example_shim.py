"""Run one example (script or jupytext notebook) and record which llmbook and tools modules it imported.

    python -m tools.example_shim SCRIPT MANIFEST
"""

from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def imported_llmbook_files() -> list[str]:
    files = set()
    for name, module in list(sys.modules.items()):
        if name.split(".")[0] in {"llmbook", "tools"} and name != "tools.example_shim":
            path = getattr(module, "__file__", None)
            if path:
                files.add(Path(path).resolve().relative_to(ROOT).as_posix())
    return sorted(files)


def run_notebook(script: Path) -> None:
    """Execute a jupytext percent script as a notebook into docs/generated/notebooks/<stem>.ipynb, and its
    page, <stem>.md (tools.notebook_page)."""
    import jupytext
    import nbformat
    from nbclient import NotebookClient

    import tools.export as export
    from tools.notebook_page import write_page

    nb = jupytext.read(script)
    client = NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=False,
                            resources={"metadata": {"path": str(ROOT)}})
    client.execute()
    out = export.generated_path(f"notebooks/{script.stem}.ipynb")
    nbformat.write(nb, out)
    write_page(nb, script.stem)
    # the kernel ran in another process: count the package modules the notebook imports
    for cell in nb.cells:
        if cell.cell_type == "code":
            for line in cell.source.splitlines():
                words = line.split()
                if len(words) >= 2 and words[0] in {"import", "from"} and words[1].split(".")[0] in {"llmbook", "tools"}:
                    __import__(words[1])


def main() -> None:
    script, manifest = Path(sys.argv[1]).resolve(), Path(sys.argv[2])
    sys.path.insert(0, str(ROOT))
    if script.parent.name == "notebooks":
        run_notebook(script)
    else:
        sys.argv = [str(script)]
        try:
            runpy.run_path(str(script), run_name="__main__")
        except SystemExit as stop:  # a script may end with sys.exit(main()): 0 or None is success
            if stop.code not in (0, None):
                raise
    manifest.write_text(json.dumps(imported_llmbook_files()))


if __name__ == "__main__":
    main()
