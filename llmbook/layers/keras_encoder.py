"""The encoder layer of ``blocks.py`` again, in Keras 3, and a copy of its weights across.

Keras 3 runs on a choice of backends (TensorFlow, JAX or PyTorch), picked once per
process by the ``KERAS_BACKEND`` environment variable before Keras is first imported.
This module picks ``torch`` unless the caller chose already, so the book needs no
TensorFlow; the layer's code is the same on every backend.

Keras lays a multi-head attention's weights out per head: the query kernel is
(C, H, D) where the book's ``q_proj.weight`` is (H*D, C) (PyTorch's ``Linear`` stores
(out, in)), and the output kernel is (H, D, C). A ``Dense`` kernel is (in, out), the
transpose of a ``Linear`` weight.
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")  # must come before the first `import keras`

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

from llmbook.layers.blocks import EncoderLayer  # noqa: E402


# --8<-- [start:encoder]
class KerasEncoderLayer(keras.layers.Layer):
    """The original Transformer's encoder layer in Keras: post-norm, ReLU feed-forward, dropout on each sub-layer."""

    def __init__(self, dim: int, n_heads: int, hidden: int, dropout: float = 0.1, eps: float = 1e-5,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if dim % n_heads:
            raise ValueError(f"dim={dim} is not divisible by n_heads={n_heads}")
        self.attn = layers.MultiHeadAttention(n_heads, key_dim=dim // n_heads)
        self.norm1 = layers.LayerNormalization(epsilon=eps)  # Keras's default epsilon differs from torch's
        self.up = layers.Dense(hidden, activation="relu")  # C -> F
        self.down = layers.Dense(dim)  # F -> C
        self.norm2 = layers.LayerNormalization(epsilon=eps)
        self.drop = layers.Dropout(dropout)  # active only when called with training=True

    def call(self, x, training: bool = False):  # (B, T, C) -> (B, T, C)
        x = self.norm1(x + self.drop(self.attn(x, x), training=training))  # query and keys from the same x
        return self.norm2(x + self.drop(self.down(self.up(x)), training=training))
# --8<-- [end:encoder]


# --8<-- [start:copy]
def copy_encoder_weights(src: EncoderLayer, dst: KerasEncoderLayer) -> None:
    """Give the Keras layer ``dst`` the weights of the book's PyTorch ``src`` (built first if need be)."""
    c, h = src.attn.n_heads * src.attn.d_head, src.attn.n_heads
    hidden = src.ffn.up.out_features
    if (dst.down.units, dst.attn.num_heads, dst.up.units) != (c, h, hidden):
        raise ValueError(f"shapes differ: torch layer has dim {c}, {h} heads, hidden {hidden}; Keras layer "
                         f"dim {dst.down.units}, {dst.attn.num_heads} heads, hidden {dst.up.units}")
    if dst.norm1.epsilon != src.norm1.eps:
        raise ValueError(f"LayerNorm eps differs: torch {src.norm1.eps}, Keras {dst.norm1.epsilon}; "
                         "build the Keras layer with eps=...")
    if not dst.built:
        dst(np.zeros((1, 1, c), dtype="float32"))  # Keras creates its weights on the first call

    def w(t) -> np.ndarray:
        return t.detach().cpu().numpy()

    a = src.attn
    attn = {}
    for name, proj in (("query", a.q_proj), ("key", a.k_proj), ("value", a.v_proj)):
        attn[f"{name}/kernel"] = w(proj.weight).T.reshape(c, h, c // h)  # (C, H, D)
        attn[f"{name}/bias"] = w(proj.bias).reshape(h, c // h)  # (H, D)
    attn["attention_output/kernel"] = w(a.out_proj.weight).T.reshape(h, c // h, c)  # (H, D, C)
    attn["attention_output/bias"] = w(a.out_proj.bias)  # (C,)
    for var in dst.attn.weights:  # matched by name, e.g. ".../query/kernel"
        var.assign(attn["/".join(var.path.split("/")[-2:])])
    dst.up.set_weights([w(src.ffn.up.weight).T, w(src.ffn.up.bias)])  # Dense kernel is (in, out)
    dst.down.set_weights([w(src.ffn.down.weight).T, w(src.ffn.down.bias)])
    dst.norm1.set_weights([w(src.norm1.weight), w(src.norm1.bias)])
    dst.norm2.set_weights([w(src.norm2.weight), w(src.norm2.bias)])
# --8<-- [end:copy]
