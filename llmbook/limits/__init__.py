"""What models can and cannot do: small probes whose outputs the last chapter asserts.

:mod:`~.probes` (confidence of a generated text, seeded sums by digit count, a pronoun bias probe).
"""
