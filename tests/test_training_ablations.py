"""tiny_llama(without=...): each part taken out does what its name says, and the default is the plain Llama."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest
import torch

from helpers import one_torch_thread
from llmbook.layers.blocks import LlamaBlock
from llmbook.layers.norms import RMSNorm
from llmbook.models.config import LlamaConfig
from llmbook.models.llama import Llama
from llmbook.training.data import RandomWindows
from llmbook.training.loop import TrainConfig, fit
from llmbook.training.tiny_llama import ABLATIONS, AblatedBlock, ablate, tiny_llama

SIZE = dict(n_layers=2, dim=32, n_heads=2, context=16, ffn_dim=48)
V = 40


@pytest.fixture(autouse=True)
def _one_thread():
    with one_torch_thread():
        yield


def ids(seed: int = 0, t: int = 12) -> torch.Tensor:
    return torch.randint(V, (2, t), generator=torch.Generator().manual_seed(seed))


def test_default_is_the_plain_llama_bit_for_bit() -> None:
    model = tiny_llama(V, **SIZE, seed=3)
    assert type(model) is Llama and all(type(b) is LlamaBlock for b in model.blocks)
    torch.manual_seed(3)  # what tiny_llama did before it had ``without``
    c = SIZE
    plain = Llama(LlamaConfig(vocab_size=V, n_layers=c["n_layers"], n_heads=c["n_heads"], n_kv_heads=c["n_heads"],
                              dim=c["dim"], ffn_dim=c["ffn_dim"], context_length=c["context"], rope_base=10000.0,
                              norm_eps=1e-5, tied_embeddings=True))
    for block in plain.blocks:
        block.attn.fused = True
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), plain.state_dict().values()))
    assert torch.equal(model(ids()), plain(ids()))
    assert torch.equal(tiny_llama(V, **SIZE, seed=3, without=[])(ids()), model(ids()))


def test_an_ablated_block_with_nothing_taken_out_is_the_block() -> None:
    model = tiny_llama(V, **SIZE)
    ref = model(ids())
    ablate(model, ())
    assert all(type(b) is AblatedBlock for b in model.blocks)
    assert torch.equal(model(ids()), ref)


@pytest.mark.parametrize("part", ABLATIONS)
def test_every_variant_starts_from_the_same_weights(part: str) -> None:
    full = tiny_llama(V, **SIZE).state_dict()
    ablated = tiny_llama(V, **SIZE, without=[part]).state_dict()
    assert set(ablated) <= set(full)  # the same names; only norms lose their gains
    assert all(torch.equal(ablated[k], full[k]) for k in ablated)
    assert (set(full) - set(ablated) != set()) == (part == "norms")


def test_without_positions_order_before_the_last_token_is_lost() -> None:
    one = dict(SIZE, n_layers=1)  # after one layer the last position sees its prefix as a set
    x = ids(1)
    swapped = x.clone()
    swapped[:, [0, 1]] = x[:, [1, 0]]
    blind = tiny_llama(V, **one, without=["positions"])
    assert torch.allclose(blind(x)[:, -1], blind(swapped)[:, -1], atol=1e-5)
    seeing = tiny_llama(V, **one)
    assert not torch.allclose(seeing(x)[:, -1], seeing(swapped)[:, -1], atol=1e-5)


def test_without_residuals_the_stream_is_replaced() -> None:
    x = torch.randn(2, 12, SIZE["dim"])
    cos, sin = torch.ones(12, 8), torch.zeros(12, 8)  # D = 16: 8 pairs, rotated by 0
    for without, expect_x in ((frozenset(), True), (frozenset({"residuals"}), False)):
        block = AblatedBlock(LlamaBlock(SIZE["dim"], 2, 2, SIZE["ffn_dim"]), without)
        with torch.no_grad():
            block.ffn.down.weight.zero_()  # the feed-forward writes nothing
            block.attn.o_proj.weight.zero_()  # nor does attention
        out = block(x, cos, sin)
        assert torch.equal(out, x if expect_x else torch.zeros_like(x))


def test_without_norms_there_is_no_norm_left() -> None:
    full, bare = tiny_llama(V, **SIZE), tiny_llama(V, **SIZE, without=["norms"])
    assert any(isinstance(m, RMSNorm) for m in full.modules())
    assert not any(isinstance(m, RMSNorm) for m in bare.modules())
    n = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert n(full) - n(bare) == (2 * SIZE["n_layers"] + 1) * SIZE["dim"]


def test_without_scaling_scores_are_q_dot_k() -> None:
    """Unscaled attention equals scaled attention whose queries were multiplied by sqrt(D)."""
    d_head = SIZE["dim"] // SIZE["n_heads"]
    unscaled = tiny_llama(V, **SIZE, without=["scaling"])
    scaled = tiny_llama(V, **SIZE)
    with torch.no_grad():
        for block in scaled.blocks:
            block.attn.q_proj.weight.mul_(math.sqrt(d_head))
    assert torch.allclose(unscaled(ids()), scaled(ids()), atol=1e-4)
    assert not torch.allclose(unscaled(ids()), tiny_llama(V, **SIZE)(ids()), atol=1e-4)


def test_bad_requests_are_refused() -> None:
    with pytest.raises(ValueError, match=r"cannot take out \['bias'\]: the parts are \['positions'"):
        tiny_llama(V, **SIZE, without=["bias", "norms"])
    with pytest.raises(ValueError, match="a list of part names, got the string 'norms'"):
        tiny_llama(V, **SIZE, without="norms")
    model = tiny_llama(V, **SIZE, without=["norms"])
    with pytest.raises(ValueError, match="takes no KV cache"):
        model(ids(), cache=model.new_cache(2))


def test_every_ablated_model_trains() -> None:
    data = torch.randint(V, (2000,), generator=torch.Generator().manual_seed(0))
    for part in ABLATIONS:
        model = tiny_llama(V, **SIZE, without=[part])
        history = fit(model, RandomWindows(data, 16, 4, seed=0), [], TrainConfig(steps=3, warmup=1, eval_every=0),
                      progress=False)
        assert all(math.isfinite(r["loss"]) for r in history["train"]), part


def load_example():
    path = Path(__file__).resolve().parents[1] / "examples" / "train_ablations.py"
    spec = importlib.util.spec_from_file_location("train_ablations", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_page_sentences_follow_the_run() -> None:
    example = load_example()
    final = {"full model": 2.0, "without positions": 2.1, "without residuals": 2.9, "without norms": 2.5,
             "without the √D scaling": 1.9}
    result = {"environment": {"date": "2026-01-01"}, "cpu_seconds": 40.0, "model": example.MODEL, "batch_size": 8,
              "steps": 240, "runs": {n: {"without": list(example.VARIANTS[n]), "val": [[0, 4.6], [240, loss]]}
                                     for n, loss in final.items()}}
    text = example.sentences(result)
    assert "Taking out the residuals hurts most: 2.90, +0.90 nats" in text
    assert "Then the norms +0.50 (2.50) and the positions +0.10 (2.10)." in text
    assert "Taking out the √D scaling did not hurt in a run this short: 1.90 (-0.10)." in text
