"""llmbook: the code the book *Large Language Models, Deconstructed* teaches.

Each module holds one idea. Chapters import from here and show it; the tests
check it against independent reference implementations.
"""

import importlib

__version__ = "0.1.0"


def __getattr__(name: str):  # noqa: ANN202
    """Lazy access: ``llmbook.load_model`` and ``llmbook.<module>`` import on first use,
    so ``import llmbook`` stays cheap and tokenizer-only code never imports torch."""
    if name == "load_model":
        from llmbook.model import load_model

        return load_model
    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as err:
        if err.name != f"{__name__}.{name}":
            raise  # the module exists but something it imports is missing
    raise AttributeError(f"module 'llmbook' has no attribute {name!r}")
