"""llmbook.inference.generate on the real model, against `transformers` loading the same GGUF file.

- greedy and beam search: the same token ids as `transformers`' ``generate``;
- contrastive search: `transformers` 5.x moved it out of the library to a Hub repo
  (``transformers-community/contrastive-search``), which cannot be fetched offline, so
  the reference is the algorithm of transformers 4.x's ``_contrastive_search`` written
  out below on `transformers`' model, recomputing every position without a cache;
- temperature, top-k, top-p, min-p and repetition penalty: the filtered logits equal
  those of `transformers`' logits processors on real logits, value for value;
- the KV cache: logits with and without it agree within 1e-4 at every step.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import torch

from helpers import budget_sample, one_torch_thread
from llmbook.inference.generate import Piece, _TextStream, generate, stream
from llmbook.inference.kv_cache import KVCache
from llmbook.models.llama import Llama
from llmbook.inference.sampling import (SamplingParams, apply_temperature, min_p_filter, process_logits, repetition_penalty,
                              top_k_filter, top_p_filter)

transformers = pytest.importorskip("transformers")
from transformers.generation import logits_process as lp  # noqa: E402

EOS = 2  # <|im_end|>
CACHE_TOLERANCE = 1e-4  # max |logit difference| between cached and recomputed decoding


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    with one_torch_thread():
        yield


@pytest.fixture(scope="module")
def ours(smollm: Llama) -> Llama:
    return smollm


@pytest.fixture(scope="module")
def hf(hf_smollm: Any) -> Any:
    return hf_smollm


def prompts(ours: Llama) -> dict[str, list[int]]:
    tok = ours.tokenizer
    return {
        "france": tok.encode("The capital of France is"),
        "chat": ours.encode_chat([{"role": "user", "content": "Name one colour. One word."}]),
        "code": tok.encode("def fibonacci(n):\n"),
        "story": tok.encode("Once upon a time, a small robot"),
        "list": tok.encode("Three fruits: apple, banana,"),
        "unicode": tok.encode("Le café «Saint-Éloi» est"),
    }


def hf_generate(hf: Any, ids: list[int], **kwargs: Any) -> list[int]:
    x = torch.tensor([ids])
    with torch.inference_mode():
        out = hf.generate(x, attention_mask=torch.ones_like(x), eos_token_id=EOS, pad_token_id=EOS, do_sample=False,
                          **kwargs)
    return out[0, len(ids):].tolist()


# ----------------------------------------------------------------------------- greedy and beam search


@pytest.mark.parametrize("name", ["france", "chat", "code"])
def test_greedy_matches_transformers(ours: Llama, hf: Any, name: str) -> None:
    ids = prompts(ours)[name]
    got = generate(ours, ids, "greedy", max_new_tokens=10)
    assert got.ids == hf_generate(hf, ids, max_new_tokens=10), name


def test_greedy_with_repetition_penalty_matches_transformers(ours: Llama, hf: Any) -> None:
    ids = prompts(ours)["list"]
    got = generate(ours, ids, "greedy", max_new_tokens=12, repetition_penalty=1.5)
    assert got.ids == hf_generate(hf, ids, max_new_tokens=12, repetition_penalty=1.5)
    assert got.ids != generate(ours, ids, "greedy", max_new_tokens=12).ids  # the penalty did change something


BEAM_SETTINGS = [
    ("france", dict(num_beams=3, length_penalty=1.0, early_stopping=False)),
    ("chat", dict(num_beams=4, length_penalty=1.0, early_stopping=True)),
    ("story", dict(num_beams=2, length_penalty=0.5, early_stopping="never")),
]


@pytest.mark.parametrize("name,settings", BEAM_SETTINGS, ids=[s[0] for s in BEAM_SETTINGS])
def test_beam_search_matches_transformers(ours: Llama, hf: Any, name: str, settings: dict[str, Any]) -> None:
    ids = prompts(ours)[name]
    got = generate(ours, ids, "beam", max_new_tokens=10, **settings)
    assert got.ids == hf_generate(hf, ids, max_new_tokens=10, **settings), name


def test_beam_search_differs_from_greedy_somewhere(ours: Llama) -> None:
    """Otherwise the agreement above would not show that beam search is more than greedy."""
    ids = prompts(ours)["france"]
    beam = generate(ours, ids, "beam", max_new_tokens=6, num_beams=3).ids
    assert beam != generate(ours, ids, "greedy", max_new_tokens=6).ids


@pytest.mark.slow
def test_greedy_and_beam_match_on_more_prompts(ours: Llama, hf: Any) -> None:
    cases = [(n, s) for n in prompts(ours) for s in ({}, {"num_beams": 3}, {"num_beams": 2, "early_stopping": True})]
    for name, settings in budget_sample(cases, 1, seed=6):
        ids = prompts(ours)[name]
        got = generate(ours, ids, "beam" if settings else "greedy", max_new_tokens=16, **settings)
        assert got.ids == hf_generate(hf, ids, max_new_tokens=16, **settings), (name, settings)


# ----------------------------------------------------------------------------- contrastive search


def reference_contrastive(hf: Any, ids: list[int], top_k: int, alpha: float, max_new_tokens: int) -> list[int]:
    """transformers 4.x ``_contrastive_search`` on `transformers`' model, with every position recomputed."""
    tokens, out = list(ids), []
    with torch.inference_mode():
        first = hf(torch.tensor([tokens]), output_hidden_states=True)
        logits, context = first.logits[0, -1], first.hidden_states[-1][0]
        for _ in range(max_new_tokens):
            top_probs, top_ids = torch.topk(logits.softmax(-1), k=top_k)
            batch = torch.cat([torch.tensor([tokens]).repeat(top_k, 1), top_ids[:, None]], dim=1)
            cand = hf(batch, output_hidden_states=True)
            next_hidden = cand.hidden_states[-1][:, -1:, :]  # (k, 1, C)
            ctx = context[None].repeat(top_k, 1, 1)  # (k, S, C)
            cosine = ((ctx / ctx.norm(dim=2, keepdim=True)) @ (next_hidden / next_hidden.norm(dim=2, keepdim=True))
                      .transpose(1, 2)).squeeze(-1)  # (k, S)
            score = (1.0 - alpha) * top_probs - alpha * cosine.max(dim=-1).values
            best = int(score.argmax())
            out.append(int(top_ids[best]))
            if out[-1] == EOS:
                break
            tokens.append(out[-1])
            logits, context = cand.logits[best, -1], torch.cat([context, next_hidden[best]], dim=0)
    return out


@pytest.mark.parametrize("name,top_k,alpha", [("france", 4, 0.6), ("story", 3, 0.5)])
def test_contrastive_search_matches_reference(ours: Llama, hf: Any, name: str, top_k: int, alpha: float) -> None:
    ids = prompts(ours)[name]
    got = generate(ours, ids, "contrastive", max_new_tokens=8, top_k=top_k, penalty_alpha=alpha)
    assert got.ids == reference_contrastive(hf, ids, top_k, alpha, 8), name


def test_contrastive_search_is_not_greedy(ours: Llama) -> None:
    ids = prompts(ours)["france"]
    greedy = generate(ours, ids, max_new_tokens=6).ids
    assert generate(ours, ids, "contrastive", max_new_tokens=6).ids != greedy
    # alpha = 0 leaves only the probability term: greedy
    assert generate(ours, ids, "contrastive", max_new_tokens=6, penalty_alpha=0.0).ids == greedy


def test_contrastive_with_and_without_cache(ours: Llama) -> None:
    ids = prompts(ours)["story"]
    a = generate(ours, ids, "contrastive", max_new_tokens=6)
    b = generate(ours, ids, "contrastive", max_new_tokens=6, use_cache=False)
    assert a.ids == b.ids


# ----------------------------------------------------------------------------- logits processors


@pytest.fixture(scope="module")
def real_logits(ours: Llama) -> list[tuple[list[int], torch.Tensor]]:
    """Last-position logits (1, V) of three prompts, with the prompt's ids for the repetition penalty."""
    out = []
    for name in ("france", "story", "list"):
        ids = prompts(ours)[name]
        with torch.inference_mode():
            out.append((ids, ours(torch.tensor([ids]))[:, -1]))
    return out


def assert_same_filtered(got: torch.Tensor, expected: torch.Tensor, what: str) -> None:
    kept = torch.isfinite(expected)
    assert torch.equal(torch.isfinite(got), kept), f"{what}: different tokens kept"
    assert 1 <= int(kept.sum()) <= got.shape[-1]
    torch.testing.assert_close(got[kept], expected[kept], rtol=0, atol=1e-6, msg=what)
    torch.testing.assert_close(got.softmax(-1), expected.softmax(-1), rtol=0, atol=1e-7, msg=what)


@pytest.mark.parametrize("mine,theirs,values", [
    (apply_temperature, lp.TemperatureLogitsWarper, [0.3, 0.7, 1.5]),
    (top_k_filter, lp.TopKLogitsWarper, [1, 5, 50, 1000]),
    (top_p_filter, lp.TopPLogitsWarper, [0.1, 0.5, 0.9, 0.95]),
    (min_p_filter, lp.MinPLogitsWarper, [0.02, 0.1, 0.5]),
], ids=["temperature", "top-k", "top-p", "min-p"])
def test_processor_matches_transformers(real_logits: list, mine: Any, theirs: Any, values: list) -> None:
    kept_counts = set()
    for ids, logits in real_logits:
        for v in values:
            got, expected = mine(logits, v), theirs(v)(torch.tensor([ids]), logits.clone())
            assert_same_filtered(got, expected, f"{mine.__name__}({v})")
            kept_counts.add(int(torch.isfinite(got).sum()))
    if mine is not apply_temperature:
        assert len(kept_counts) >= 3  # the settings really cut at different places


def test_repetition_penalty_matches_transformers(real_logits: list) -> None:
    for ids, logits in real_logits:
        for penalty in (0.8, 1.3, 2.0):
            got = repetition_penalty(logits, torch.tensor([ids]), penalty)
            expected = lp.RepetitionPenaltyLogitsProcessor(penalty)(torch.tensor([ids]), logits.clone())
            assert torch.equal(got, expected)
            assert not torch.equal(got, logits)


def test_combined_processors_match_transformers_in_order(real_logits: list) -> None:
    for ids, logits in real_logits:
        params = SamplingParams(temperature=0.8, top_k=40, top_p=0.9, min_p=0.05, repetition_penalty=1.2)
        chain = lp.LogitsProcessorList([lp.RepetitionPenaltyLogitsProcessor(1.2), lp.TemperatureLogitsWarper(0.8),
                                        lp.TopKLogitsWarper(40), lp.TopPLogitsWarper(0.9), lp.MinPLogitsWarper(0.05)])
        got = process_logits(logits, params, torch.tensor([ids]))
        assert_same_filtered(got, chain(torch.tensor([ids]), logits.clone()), "combined")


def test_top_k_one_sampling_is_greedy(ours: Llama) -> None:
    ids = prompts(ours)["story"]
    assert (generate(ours, ids, "top-k", max_new_tokens=8, seed=3, top_k=1).ids
            == generate(ours, ids, max_new_tokens=8).ids)


def test_seeded_sampling_is_reproducible(ours: Llama) -> None:
    ids = prompts(ours)["story"]
    a = generate(ours, ids, "top-p", max_new_tokens=8, seed=0, temperature=1.2)
    b = generate(ours, ids, "top-p", max_new_tokens=8, seed=0, temperature=1.2)
    c = generate(ours, ids, "top-p", max_new_tokens=8, seed=1, temperature=1.2)
    assert a.ids == b.ids and a.text == b.text
    assert c.ids != a.ids
    assert len(a.ids) == 8


# ----------------------------------------------------------------------------- the KV cache


def test_cache_matches_recomputation_at_every_step(ours: Llama) -> None:
    ids = prompts(ours)["story"]
    c = ours.config
    cache = KVCache(c.n_layers)
    tokens = list(ids)
    worst = 0.0
    with torch.inference_mode():
        logits = ours(torch.tensor([tokens]), cache)[0, -1]
        for step in range(10):
            full = ours(torch.tensor([tokens]))[0, -1]
            worst = max(worst, (logits - full).abs().max().item())
            assert int(logits.argmax()) == int(full.argmax()), step
            assert all(k.shape == (1, c.n_kv_heads, len(tokens), c.head_dim) for k in cache.keys)
            tokens.append(int(logits.argmax()))
            logits = ours(torch.tensor([tokens[-1:]]), cache)[0, -1]
    assert worst <= CACHE_TOLERANCE, f"max |cached - recomputed| = {worst:.2e}"


def test_generation_with_and_without_cache(ours: Llama) -> None:
    ids = prompts(ours)["code"]
    assert generate(ours, ids, max_new_tokens=8).ids == generate(ours, ids, max_new_tokens=8, use_cache=False).ids


# ----------------------------------------------------------------------------- stopping, streaming, text


def test_stops_at_eos_and_keeps_it_out_of_the_text(ours: Llama) -> None:
    g = generate(ours, "Name one colour. One word.", chat=True, max_new_tokens=20)
    assert g.stop_reason == "eos" and g.ids[-1] == EOS and len(g.ids) < 20
    assert "<|im_end|>" not in g.text and g.text == ours.tokenizer.decode(g.ids[:-1])
    never = generate(ours, "Name one colour. One word.", chat=True, max_new_tokens=len(g.ids) + 2, eos_token_id=None)
    assert never.stop_reason == "length" and len(never.ids) == len(g.ids) + 2


def test_stop_strings(ours: Llama) -> None:
    g = generate(ours, "The capital of France is", max_new_tokens=12, stop=[".", "\n"])
    assert g.stop_reason == "stop" and g.text == " Paris" and g.ids == [7042, 30]
    pieces = list(stream(ours, "The capital of France is", max_new_tokens=12, stop="."))
    assert "".join(p.text for p in pieces) == " Paris"
    b = generate(ours, "The capital of France is", "beam", max_new_tokens=12, num_beams=2, stop=".")
    assert b.stop_reason == "stop" and "." not in b.text and b.ids[-1] == 30


def test_stream_yields_each_token_as_generate_does(ours: Llama) -> None:
    pieces = list(stream(ours, "Once upon a time, a small robot", "top-k", max_new_tokens=10, seed=4))
    g = generate(ours, "Once upon a time, a small robot", "top-k", max_new_tokens=10, seed=4)
    assert [p.id for p in pieces if p.id >= 0] == g.ids
    assert "".join(p.text for p in pieces) == g.text
    assert all(isinstance(p, Piece) for p in pieces)


def test_text_stream_holds_back_partial_characters(ours: Llama) -> None:
    tok = ours.tokenizer
    text = "日本語 «π» 🙂"
    ids = tok.encode(text)
    assert len(ids) > len(text.replace(" ", ""))  # some characters take several tokens
    s = _TextStream(tok, [], None)
    pieces = [s.push(i) for i in ids] + [s.flush()]
    assert all("\ufffd" not in p for p in pieces)
    assert "".join(pieces) == text


def test_chat_option_applies_the_template(ours: Llama) -> None:
    g = generate(ours, "Hi", chat=True, max_new_tokens=1)
    assert g.prompt_ids == ours.encode_chat([{"role": "user", "content": "Hi"}])


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize("kwargs,message", [
    (dict(strategy="nucleus"), "unknown strategy 'nucleus'"),
    (dict(strategy="top-p", top_p=1.5), "top_p must be in (0, 1], got 1.5"),
    (dict(strategy="sample", temperature=0), "temperature must be > 0, got 0"),
    (dict(strategy="sample", temperature=-1.0), "temperature must be > 0"),
    (dict(strategy="top-k", top_k=0), "top_k must be an integer >= 1, got 0"),
    (dict(strategy="top-k", top_k=2.5), "top_k must be an integer >= 1"),
    (dict(strategy="min-p", min_p=2), "min_p must be in [0, 1], got 2"),
    (dict(strategy="beam", num_beams=0), "num_beams must be an integer >= 1"),
    (dict(strategy="beam", early_stopping="soon"), "early_stopping must be True, False or 'never'"),
    (dict(strategy="contrastive", penalty_alpha=1.5), "penalty_alpha must be in [0, 1]"),
    (dict(strategy="greedy", top_p=0.9), "top_p does not apply to strategy 'greedy'"),
    (dict(strategy="greedy", repetition_penalty=0), "repetition_penalty must be > 0"),
    (dict(max_new_tokens=0), "max_new_tokens must be an integer >= 1"),
    (dict(strategy="beam", use_cache=False), "beam search always uses the KV cache"),
])
def test_clear_errors(ours: Llama, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as e:
        generate(ours, "Hello", **kwargs)
    assert message in str(e.value)


def test_error_for_prompt_past_the_context(ours: Llama) -> None:
    with pytest.raises(ValueError, match=r"prompt of 8190 tokens \+ max_new_tokens=10 = 8200 tokens exceeds "
                                         r"the model's context length of 8192"):
        generate(ours, [42] * 8190, max_new_tokens=10)
    with pytest.raises(ValueError, match="exceeds the model's context length"):
        stream(ours, [42] * 8193, max_new_tokens=1)  # raised at the call, before any token


def test_error_for_bad_prompts(ours: Llama) -> None:
    with pytest.raises(ValueError, match="the prompt is empty"):
        generate(ours, "")
    with pytest.raises(ValueError, match="outside the vocabulary"):
        generate(ours, [1, 49152])
    with pytest.raises(ValueError, match="chat=True needs the prompt as text"):
        generate(ours, [1, 2], chat=True)
