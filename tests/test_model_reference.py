"""llmbook's SmolLM2 against `transformers` loading the same GGUF file: tokenizer, chat template, a known logit
(logits on many prompts, for every engine, are in test_engines).

The reference model takes ~20 s to load, so it is loaded once per session.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

from helpers import budget_sample
from llmbook.tokenizer.chat import chatml
from tools.corpus import stdlib_documents
from llmbook.models.llama import Llama
from llmbook.models.registry import model_path

transformers = pytest.importorskip("transformers")

CONVERSATION = [
    {"role": "user", "content": "What is the capital of France?"},
    {"role": "assistant", "content": "Paris."},
    {"role": "user", "content": "And of Italy? Answer in one word."},
]


@pytest.fixture(scope="session")
def ours(smollm: Llama) -> Llama:
    return smollm


@pytest.fixture(scope="session")
def reference(hf_smollm: Any) -> tuple[Any, Any]:
    path = model_path("smollm2-135m-instruct")
    tok = transformers.AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    return hf_smollm, tok


def test_paris_in_both(ours: Llama, reference: tuple[Any, Any]) -> None:
    hf, _ = reference
    with torch.inference_mode():
        last = hf(torch.tensor([[504, 3575, 282, 4649, 314]])).logits[0, -1]
    assert last.argmax().item() == 7042
    assert last[7042].item() == pytest.approx(17.37, abs=0.01)


def test_chat_template_matches_the_files_jinja(ours: Llama, reference: tuple[Any, Any]) -> None:
    _, tok = reference
    assert ours.chat_template is not None and "<|im_start|>" in ours.chat_template
    cases = [CONVERSATION, [{"role": "system", "content": "Be terse."}, *CONVERSATION], CONVERSATION[:1]]
    for messages in cases:
        for gen in (True, False):
            expected = tok.apply_chat_template(messages, add_generation_prompt=gen, tokenize=False)
            assert chatml(messages, add_generation_prompt=gen) == expected


def test_tokenizer_matches_on_special_and_multilingual_text(ours: Llama, reference: tuple[Any, Any]) -> None:
    _, tok = reference
    texts = [
        chatml(CONVERSATION), "héllo wörld", "日本語のテキスト", "Ünïcödé — «quotes» 🙂👍🏽",
        "  two  spaces\tand a tab\n\n\n", "x=12345678901234567890", "it's we'll they're I'M",
    ]
    for text in texts:
        # transformers' GGUF converter always prepends BOS (id 1), although the file says add_bos_token=False
        assert ours.tokenizer.encode(text, allow_special=True) == tok(text, add_special_tokens=False)["input_ids"], text


def _smollm2_pipeline(ours: Llama) -> Any:
    """SmolLM2's own tokenizer pipeline in Hugging Face `tokenizers`: digits split one by one, then byte-level BPE.

    This is what the file's ``tokenizer.ggml.pre = "smollm"`` names (and what llama.cpp runs).
    """
    from tokenizers import AddedToken, Tokenizer, models, pre_tokenizers

    tok = ours.tokenizer
    merges = sorted(tok.ranks, key=tok.ranks.get)  # (left, right) pairs, best first
    pipeline = Tokenizer(models.BPE({t: i for i, t in enumerate(tok.tokens)}, merges))
    pipeline.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
    )
    pipeline.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in tok.special])
    return pipeline


@pytest.mark.slow
def test_tokenizer_matches_on_stdlib_sample(ours: Llama, reference: tuple[Any, Any]) -> None:
    """Exact on a sample of the standard library, against two references.

    `transformers`' GGUF converter ignores ``tokenizer.ggml.pre`` and uses plain GPT-2
    pre-tokenization, so it matches our tokenizer run with ``pre="gpt2"``; the two differ
    only where a run of whitespace precedes a digit ("\\n    3"). With the file's own
    ``smollm`` pre-tokenizer we match SmolLM2's pipeline built in `tokenizers`.
    """
    from llmbook.models.gguf import read_gguf
    from llmbook.tokenizer.gguf_tokenizer import GGUFTokenizer

    _, hf_tok = reference
    gpt2_pre = GGUFTokenizer.from_gguf(read_gguf(model_path("smollm2-135m-instruct")).metadata, pre="gpt2")
    smollm2 = _smollm2_pipeline(ours)
    for name, text in budget_sample(list(stdlib_documents()), 12, seed=5):
        assert ours.tokenizer.encode(text) == smollm2.encode(text, add_special_tokens=False).ids, name
        assert gpt2_pre.encode(text) == hf_tok(text, add_special_tokens=False)["input_ids"], name
