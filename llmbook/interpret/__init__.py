"""Looking inside: reading, changing and removing what flows through the residual stream.

:mod:`~.hooks` (plain forward hooks on the book's ``Llama``: read every block's output, add a
vector, put saved activations back, project a direction out), :mod:`~.circuits` (induction
heads, the logit lens, activation patching), :mod:`~.concepts` (a direction by difference of
means, a probe along it, steering and ablation).
"""
