"""llmbook: the code the book *Large Language Models, Deconstructed* teaches.

The package is laid out like the book, one subpackage per part:

- :mod:`llmbook.tokenizer`: text to token ids and back (byte-level BPE, exact against tiktoken);
- :mod:`llmbook.layers`: attention, norms, positions, feed-forward, embeddings, blocks;
- :mod:`llmbook.models`: the Llama model, its config, the GGUF file format and its quantisations;
- :mod:`llmbook.inference`: the decoding loop, sampling, the engine interface, the NumPy engine;
- :mod:`llmbook.interpret`: hooks on the residual stream: induction heads, logit lens, patching, steering;
- :mod:`llmbook.training`, :mod:`llmbook.alignment`: the loss, the loop, and the steps after pretraining;
- :mod:`llmbook.hardware`: where the time and memory go; :mod:`llmbook.limits`: probes of what models can do.

A module imports only its own part and the parts before it, in this order.

Three entry points cover most uses::

    import llmbook
    model = llmbook.load_model("smollm2-135m-instruct")
    print(llmbook.generate(model, "The capital of France is", max_new_tokens=5).text)
    tok = llmbook.tokenizer.load("cl100k_base")
"""

import importlib
from typing import Any

__version__ = "0.1.0"
# The parts in the book's order: a module imports only its own part and earlier ones (tests/test_layout.py).
PARTS = ("tokenizer", "layers", "models", "inference", "interpret", "training", "alignment", "hardware", "limits")
__all__ = ["PARTS", "generate", "load_model", *PARTS]


def __getattr__(name: str) -> Any:
    """Lazy access: ``llmbook.load_model``, ``llmbook.generate`` and the subpackages import on first use,
    so ``import llmbook`` stays cheap and tokenizer-only code never imports torch."""
    if name == "load_model":
        from llmbook.models.llama import load_model

        return load_model
    if name == "generate":
        from llmbook.inference.generate import generate

        return generate
    if name in PARTS:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'llmbook' has no attribute {name!r}")
