"""The GGUF-loaded SmolLM2: config from metadata, known logits, tokenizer, chat format, errors
(cache, batches and input errors of every engine: test_engines)."""

from __future__ import annotations

import pytest
import torch

from llmbook.tokenizer.chat import chatml
from llmbook.inference.generate import generate
from llmbook.models.llama import Llama, load_model

PROMPT_IDS = [504, 3575, 282, 4649, 314]  # "The capital of France is"


@pytest.fixture(scope="module")
def model(smollm: Llama) -> Llama:
    return smollm


def test_config_comes_from_the_file(model: Llama) -> None:
    c = model.config
    assert (c.n_layers, c.n_heads, c.n_kv_heads, c.dim, c.head_dim, c.ffn_dim) == (30, 9, 3, 576, 64, 1536)
    assert (c.vocab_size, c.context_length, c.rope_base, c.tied_embeddings) == (49152, 8192, 100000.0, True)
    assert c.norm_eps == pytest.approx(1e-5)
    assert sum(p.numel() for p in model.parameters()) == 134_515_008
    assert all(p.dtype == torch.float32 and not p.requires_grad for p in model.parameters())


def test_capital_of_france(model: Llama) -> None:
    assert model.tokenizer.encode("The capital of France is") == PROMPT_IDS
    with torch.inference_mode():
        logits = model(torch.tensor([PROMPT_IDS]))
    assert logits.shape == (1, 5, 49152) and logits.dtype == torch.float32
    top = logits[0, -1].topk(3)
    assert top.indices.tolist() == [7042, 260, 4528]  # " Paris", " the", " London"
    assert [model.tokenizer.token_text(i) for i in top.indices.tolist()] == [" Paris", " the", " London"]
    assert top.values[0].item() == pytest.approx(17.3713, abs=2e-3)


def test_chat_generation(model: Llama) -> None:
    ids = model.encode_chat([{"role": "user", "content": "What is the capital of France?"}])
    assert ids[:3] == [1, 9690, 198]  # <|im_start|> system \n
    out = generate(model, ids, max_new_tokens=12)
    assert out.ids[-1] == 2 and out.stop_reason == "eos"  # <|im_end|>: the model ends its turn
    assert out.text == "The capital of France is Paris."


@pytest.mark.parametrize(
    "text",
    ["héllo wörld", "日本語のテキスト", "emoji 🙂👍🏽 and 3.14159", "tabs\tand\r\nnewlines\n\n\n  ", "<|im_end|> literal"],
)
def test_tokenizer_round_trip(model: Llama, text: str) -> None:
    assert model.tokenizer.decode(model.tokenizer.encode(text)) == text


def test_special_tokens(model: Llama) -> None:
    tok = model.tokenizer
    assert tok.encode("<|im_start|>user\nhi<|im_end|>", allow_special=True) == [1, 4093, 198, 6004, 2]
    assert 2 not in tok.encode("<|im_end|>", allow_special=False)
    # generation stops at the file's end-of-sequence id, which is the chat turn's end
    assert model.eos_token_id == 2 and tok.decode([model.eos_token_id]) == "<|im_end|>"


def test_chatml_format() -> None:
    msgs = [{"role": "user", "content": "Hi"}]
    assert chatml(msgs) == (
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
        "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    )
    own_system = [{"role": "system", "content": "Be brief."}, *msgs]
    assert chatml(own_system, add_generation_prompt=False) == (
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
    )
    with pytest.raises(ValueError, match="message 0 must have a role"):
        chatml([{"role": "robot", "content": "beep"}])


def test_bad_input_is_a_clear_error(model: Llama) -> None:
    with pytest.raises(IndexError, match="unknown token id -3"):
        model.tokenizer.decode([5, -3])
    with pytest.raises(KeyError, match="unknown model 'gpt-5'"):
        load_model("gpt-5")


def test_runs_in_bfloat16() -> None:
    """A bfloat16 copy rotates q and k in bfloat16 too (float32 RoPE tables would make attention mix dtypes)."""
    model = load_model().to(torch.bfloat16)
    with torch.inference_mode():
        logits = model(torch.tensor([[504, 3575, 282, 4649, 314]]))[0, -1]  # "The capital of France is"
    assert logits.dtype == torch.bfloat16
    assert model.tokenizer.token_text(int(logits.argmax())) == " Paris"
