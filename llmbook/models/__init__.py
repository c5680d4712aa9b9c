"""Whole models and the files they come in.

:mod:`~.llama` (the Llama model, loaded from GGUF), :mod:`~.config` (its shape),
:mod:`~.gguf` (reading GGUF files), :mod:`~.quant` (GGML's block quantisations),
:mod:`~.registry` (where the book's model files live), :mod:`~.inputs` (the checks of token ids and cache sizes
every model makes), :mod:`~.embedding_space`
(looking inside a trained embedding matrix).
"""
