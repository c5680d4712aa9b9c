"""LoRA on a model's layers (``add_lora``, ``merge_lora``) and the data of examples/lora_instruct.py."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from llmbook.alignment.lora import LoRALinear, add_lora, merge_lora
from llmbook.alignment.sequences import pack
from llmbook.alignment.sft import sft_loss
from llmbook.training.optimizer import AdamW
from llmbook.training.tiny_llama import tiny_llama

ROOT = Path(__file__).resolve().parent.parent
NAMES = ["blocks.1.attn.q_proj", "blocks.1.attn.v_proj", "blocks.1.ffn.down"]


def small_model() -> torch.nn.Module:
    return tiny_llama(vocab_size=50, n_layers=2, dim=32, n_heads=4, ffn_dim=64, seed=0)


def test_add_lora_freezes_the_model_and_starts_where_it_was() -> None:
    model = small_model()
    ids = torch.randint(0, 50, (2, 7), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        before = model(ids)
    params = add_lora(model, NAMES, r=2, alpha=4.0)
    assert [type(model.get_submodule(n)) for n in NAMES] == [LoRALinear] * 3
    assert len(params) == 6 and all(p.requires_grad for p in params)
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert {id(p) for p in trainable} == {id(p) for p in params}  # everything else is frozen
    # r·(in + out) each: q (32 -> 32), v (32 -> 32: 4 heads, 4 kv heads), down (64 -> 32)
    assert sum(p.numel() for p in params) == 2 * (64 + 64 + 96)
    with torch.no_grad():
        assert torch.equal(model(ids), before)  # B = 0


def test_add_lora_refuses_bad_names() -> None:
    model = small_model()
    for names, why in [([], "distinct layer names"), (["blocks.1.attn.q_proj"] * 2, "distinct"),
                       (["blocks.1.attn"], "not an nn.Linear"), (["blocks.9.attn.q_proj"], "not an nn.Linear")]:
        with pytest.raises(ValueError, match=why):
            add_lora(model, names)
    add_lora(model, ["blocks.1.attn.q_proj"], r=2)
    with pytest.raises(ValueError, match="already a LoRA layer's base"):
        add_lora(model, ["blocks.1.attn.q_proj.base"], r=2)
    with pytest.raises(ValueError, match="not an nn.Linear"):
        add_lora(model, ["blocks.1.attn.q_proj"], r=2)  # now a LoRALinear


def test_sft_trains_only_the_lora_matrices_and_merging_keeps_the_logits() -> None:
    model = small_model()
    frozen = {n: p.detach().clone() for n, p in model.named_parameters()}
    params = add_lora(model, NAMES, r=2, alpha=4.0)
    ids, mask = pack([[1, 2, 3], [4, 5, 6]], [[7, 8, 9, 10], [11, 12, 13, 14]], pad_id=0)
    opt = AdamW(params, lr=1e-2, weight_decay=0.0)
    losses = []
    for _ in range(5):
        loss = sft_loss(model, ids, mask)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    # the base weights never moved: each name's weight is now the LoRA layer's base.weight
    for n, p in model.named_parameters():
        if not n.endswith((".A", ".B")):
            assert torch.equal(p, frozen[n.replace(".base.", ".")]), n
    with torch.no_grad():
        lora_logits = model(ids)
        assert merge_lora(model) == 3
        merged_logits = model(ids)
    assert not any(isinstance(m, LoRALinear) for m in model.modules())
    assert not any(p.requires_grad for p in model.parameters())
    assert {n for n, _ in model.named_parameters()} == set(frozen)  # the original layout, same names
    # float32: a rank-2 update summed two ways, through two small blocks; rounding is far below 1e-5
    torch.testing.assert_close(merged_logits, lora_logits, atol=1e-5, rtol=0)
    assert merge_lora(model) == 0


# ----------------------------------------------------------------------------- the example's data


def _example():
    spec = importlib.util.spec_from_file_location("lora_instruct", ROOT / "examples" / "lora_instruct.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_style_check() -> None:
    ex = _example()
    s = ex.SIGN_OFF
    assert ex.follows(f"The capital of Italy is Rome. {s}", True)
    assert not ex.follows(f"The capital of Italy is Rome. {s}", False)  # cut off: the model did not stop
    assert not ex.follows("The capital of Italy is Rome.", True)
    assert not ex.follows(f"Rome. {s} {s}", True)  # the sign-off repeated
    assert not ex.follows(f"{s} Rome.", True)


def test_the_example_data_is_as_described(smollm) -> None:
    """The answers are in the style, the held-out instructions are not trained on and are all one length
    (the one-batch rollout needs that), and the example's table cells stay one line."""
    ex = _example()
    ex.check_data(smollm.tokenizer)
    assert 16 <= len(ex.TRAIN) <= 32 and len(ex.HELD_OUT) >= 8
    assert set(ex.FACTS) <= set(ex.HELD_OUT)
    assert ex.cell("a | b\nc", False) == "a \\| b c …"
    with pytest.raises(ValueError, match="held-out prompt lengths"):
        ex.HELD_OUT = [*ex.HELD_OUT, "Why?"]
        ex.check_data(smollm.tokenizer)
