"""The Keras 3 encoder layer (torch backend) against the book's PyTorch EncoderLayer, and that Keras trains it."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")  # before the first `import keras`: no TensorFlow needed

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from llmbook.layers.blocks import EncoderLayer  # noqa: E402
from llmbook.layers.keras_encoder import KerasEncoderLayer, copy_encoder_weights  # noqa: E402

# Keras's torch backend turns tensors into arrays with np.array(tensor), and torch 2.13's Tensor.__array__ has no
# `copy` keyword, which NumPy 2 warns about on every call inside model.fit: harmless, and not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")

# The two layers do the same float32 arithmetic in another order (Keras contracts per-head kernels with einsum,
# the book multiplies whole matrices then splits heads); each output is a LayerNorm of sums of at most ~100 terms,
# so reordering moves it by at most ~100 * 2^-24 ≈ 6e-6 of its scale on any CPU. Measured: ~2e-7.
REL = 1e-5


def _pair(dim: int = 16, heads: int = 4, hidden: int = 48, eps: float = 1e-5) -> tuple[EncoderLayer, KerasEncoderLayer]:
    torch.manual_seed(0)
    src = EncoderLayer(dim, heads, hidden, dropout=0.1, eps=eps).eval()
    with torch.no_grad():  # random norms and biases too, so a mixed-up copy cannot go unnoticed
        for p in src.parameters():
            p.normal_(0.0, 0.5)
    dst = KerasEncoderLayer(dim, heads, hidden, dropout=0.1, eps=eps)
    copy_encoder_weights(src, dst)
    return src, dst


def test_keras_runs_on_the_torch_backend() -> None:
    assert keras.backend.backend() == "torch", f"KERAS_BACKEND is {keras.backend.backend()!r}, the tests need torch"


@pytest.mark.parametrize("eps", [1e-5, 1e-6])
def test_copied_weights_give_the_same_output(eps: float) -> None:
    src, dst = _pair(eps=eps)
    x = torch.randn(3, 7, 16)
    want = src(x).detach().numpy()
    got = keras.ops.convert_to_numpy(dst(x.numpy()))  # training=False: dropout off, as src.eval()
    assert got.shape == want.shape == (3, 7, 16)
    np.testing.assert_allclose(got, want, rtol=0, atol=REL * max(1.0, float(np.abs(want).max())))
    assert dst.count_params() == sum(p.numel() for p in src.parameters())


def test_dropout_is_on_only_in_training() -> None:
    src, dst = _pair()
    x = torch.randn(2, 5, 16).numpy()
    off = keras.ops.convert_to_numpy(dst(x))
    on = keras.ops.convert_to_numpy(dst(x, training=True))
    assert not np.allclose(on, off, atol=1e-3)


def test_mismatched_layers_are_refused() -> None:
    src = EncoderLayer(16, 4, 48)
    with pytest.raises(ValueError, match="shapes differ: torch layer has dim 16, 4 heads, hidden 48"):
        copy_encoder_weights(src, KerasEncoderLayer(16, 2, 48))
    with pytest.raises(ValueError, match="LayerNorm eps differs: torch 1e-05, Keras 0.001"):
        copy_encoder_weights(src, KerasEncoderLayer(16, 4, 48, eps=1e-3))
    with pytest.raises(ValueError, match="dim=16 is not divisible by n_heads=3"):
        KerasEncoderLayer(16, 3, 48)


def test_keras_default_layernorm_epsilon_differs_from_torch() -> None:
    """Why the layer passes eps explicitly: Keras's default is 1e-3, torch's nn.LayerNorm's 1e-5."""
    assert keras.layers.LayerNormalization().epsilon == 1e-3
    assert torch.nn.LayerNorm(4).eps == 1e-5


def test_model_fit_trains_the_layer() -> None:
    """Every token must learn its sequence's mean (attention is needed for it); Keras's own loop lowers the loss."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 8, 16)).astype("float32")
    y = np.repeat(x.mean(axis=1, keepdims=True), 8, axis=1)
    y /= y.std()  # predicting 0 everywhere scores a loss of 1
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8, 16)), KerasEncoderLayer(16, 4, 32, dropout=0.1), keras.layers.Dense(16)])
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="mse")
    losses = model.fit(x, y, batch_size=32, epochs=10, verbose=0).history["loss"]
    assert losses[-1] < 0.6 * losses[0], losses
    assert losses[-1] < 0.95 * float((y**2).mean()), losses  # better than the constant guess
