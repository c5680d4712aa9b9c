"""llmbook: the code the book *Large Language Models, Deconstructed* teaches.

Each module holds one idea. Chapters import from here and show it; the tests
check it against independent reference implementations.
"""

__version__ = "0.1.0"


def __getattr__(name: str):  # noqa: ANN202 - lazy, so `import llmbook.x` does not pull in torch
    if name == "load_model":
        from llmbook.model import load_model

        return load_model
    raise AttributeError(f"module 'llmbook' has no attribute {name!r}")
