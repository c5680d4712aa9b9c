"""Running a trained model: from logits to text.

:mod:`~.generate` (the decoding loop and its strategies), :mod:`~.sampling`
(logits processors), :mod:`~.kv_cache` (keys and values kept between steps),
:mod:`~.chat` (chat templates), :mod:`~.numpy_engine` (the same model in NumPy).
"""
