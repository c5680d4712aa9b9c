"""Running a trained model: from logits to text.

:mod:`~.generate` (the decoding loop and its strategies), :mod:`~.sampling`
(logits processors), :mod:`~.strategies` (each strategy's checked parameters),
:mod:`~.engine` (the interface every engine implements), :mod:`~.numpy_engine` (the same model in NumPy).
"""
