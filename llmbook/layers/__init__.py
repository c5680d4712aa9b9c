"""The layers a transformer is built from, one concept per module.

:mod:`~.attention` (scaled dot-product and multi-head attention, the causal mask),
:mod:`~.grouped_query_attention` (GQA with rotary positions), :mod:`~.positions`
(sinusoidal, learned, RoPE), :mod:`~.norms` (LayerNorm, RMSNorm),
:mod:`~.feed_forward` (MLP and SwiGLU), :mod:`~.embedding` (the token lookup table),
:mod:`~.kv_cache` (the keys and values attention keeps between steps), :mod:`~.blocks` (encoder, GPT-2 and
Llama blocks), :mod:`~.keras_encoder` (the encoder layer
in Keras 3, on its PyTorch backend).
"""
