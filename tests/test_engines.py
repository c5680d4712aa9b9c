"""Engine conformance: every engine behind ``llmbook.inference.engine.Engine`` passes the same checks.

Engines: the torch ``Llama`` with PyTorch's fused attention kernel, the same model with
the book's attention formula (``fused_attention=False``), and ``NumpyLlama``. For each:

- logits equal those of `transformers` loading the same GGUF file, on several prompts;
- the KV cache gives the logits of a full recomputation, step by step, and batch rows
  (what beam and contrastive search run) are independent of each other;
- greedy and beam search give `transformers`' ``generate`` ids; contrastive search gives
  the ids of transformers 4.x's algorithm (written out below, since 5.x moved it to a Hub
  repo that cannot be fetched offline); seeded sampling gives the same ids everywhere;
- the same bad input raises the same error, with the same message.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import torch

from helpers import one_torch_thread, real_prompts
from llmbook.inference.engine import Engine, engine_for
from llmbook.inference.generate import generate
from llmbook.models.llama import Llama

pytest.importorskip("transformers")

EOS = 2  # <|im_end|>
EPS32 = float(np.finfo(np.float32).eps)


def logit_bound(model: Llama, reference: np.ndarray) -> float:
    # float32 rounding: each of L layers' length-C sums errs by ~eps*sqrt(C) relative (random-walk), summed in
    # quadrature over layers, times the logits' scale; x5 as the largest of ~1e6 Gaussian-like errors is ~5 sigma.
    # ~2e-3 on SmolLM2 (measured differences 0.5-1.4e-4); a wrong RoPE pairing moves logits by several units.
    c = model.config
    return 5 * EPS32 * math.sqrt(c.n_layers * c.dim) * float(np.abs(reference).max())


@dataclass
class Under:
    """An engine under test: its name, the model generate() is given, and the engine it runs."""

    name: str
    model: Llama
    kind: str  # generate(..., engine=kind)
    engine: Engine

    def logits(self, ids: Any, cache: Any = None, **kw: Any) -> np.ndarray:
        with torch.inference_mode():
            out = self.engine.forward(ids, cache, **kw)
        return np.asarray(out)


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    with one_torch_thread():
        yield


@pytest.fixture(scope="module", params=["torch-fused", "torch-book", "numpy"])
def under(request: pytest.FixtureRequest, smollm: Llama) -> Iterator[Under]:
    name = request.param
    if name == "numpy":
        yield Under(name, smollm, "numpy", engine_for(smollm, "numpy"))
        return
    before = [b.attn.fused for b in smollm.blocks]
    for b in smollm.blocks:
        b.attn.fused = name == "torch-fused"
    try:
        yield Under(name, smollm, "torch", smollm)
    finally:
        for b, f in zip(smollm.blocks, before):
            b.attn.fused = f


@pytest.fixture(scope="module")
def prompts(smollm: Llama) -> dict[str, list[int]]:
    return real_prompts(smollm)


class Reference:
    """`transformers`' answers, each computed once for all engines."""

    def __init__(self, hf: Any) -> None:
        self.hf, self.memo = hf, {}

    def _once(self, key: tuple, fn: Any) -> Any:
        if key not in self.memo:
            with one_torch_thread(), torch.inference_mode():
                self.memo[key] = fn()
        return self.memo[key]

    def logits(self, ids: list[int]) -> np.ndarray:
        return self._once(("logits", tuple(ids)), lambda: self.hf(torch.tensor([ids])).logits[0].numpy())

    def generate(self, ids: list[int], **kwargs: Any) -> list[int]:
        def run() -> list[int]:
            x = torch.tensor([ids])
            out = self.hf.generate(x, attention_mask=torch.ones_like(x), eos_token_id=EOS, pad_token_id=EOS,
                                   do_sample=False, **kwargs)
            return out[0, len(ids):].tolist()
        return self._once(("generate", tuple(ids), tuple(sorted(kwargs.items()))), run)

    def contrastive(self, ids: list[int], top_k: int, alpha: float, max_new_tokens: int) -> list[int]:
        return self._once(("contrastive", tuple(ids), top_k, alpha, max_new_tokens),
                          lambda: reference_contrastive(self.hf, ids, top_k, alpha, max_new_tokens))


def reference_contrastive(hf: Any, ids: list[int], top_k: int, alpha: float, max_new_tokens: int) -> list[int]:
    """transformers 4.x ``_contrastive_search`` on `transformers`' model, with every position recomputed."""
    tokens, out = list(ids), []
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


@pytest.fixture(scope="module")
def ref(hf_smollm: Any) -> Reference:
    return Reference(hf_smollm)


# ----------------------------------------------------------------------------- logits


def test_logits_match_transformers(under: Under, ref: Reference, prompts: dict[str, list[int]]) -> None:
    for name, ids in prompts.items():
        expected = ref.logits(ids)
        got = under.logits([ids])[0]
        assert got.dtype == np.float32 and got.shape == expected.shape == (len(ids), 49152), name
        assert (got.argmax(-1) == expected.argmax(-1)).all(), f"{name}: top-1 token differs"
        diff, bound = float(np.abs(got - expected).max()), logit_bound(under.model, expected)
        assert diff <= bound, f"{under.name} {name}: max |logit difference| {diff:.2e} > {bound:.2e}"


def test_last_only_and_hidden(under: Under, prompts: dict[str, list[int]]) -> None:
    ids = [prompts["france"]]
    full = under.logits(ids)
    with torch.inference_mode():
        last, hidden = under.engine.forward(ids, None, last_only=True, want_hidden=True)
    last, hidden = np.asarray(last), np.asarray(hidden)
    assert last.shape == (1, 1, 49152) and hidden.shape == (1, len(ids[0]), under.model.config.dim)
    assert hidden.dtype == np.float32
    np.testing.assert_allclose(last[0, 0], full[0, -1], rtol=0, atol=logit_bound(under.model, full))
    with torch.inference_mode():  # the hidden states are what the output layer reads: tied embedding . h
        again = hidden[0, -1] @ under.model.embed.weight.numpy().T
    np.testing.assert_allclose(again, full[0, -1], rtol=0, atol=logit_bound(under.model, full))


def test_cache_gives_the_same_logits_step_by_step(under: Under, prompts: dict[str, list[int]]) -> None:
    ids = prompts["chat"]
    full = under.logits([ids])[0]  # (T, V), no cache
    cache = under.engine.new_cache(1, len(ids))
    parts = [under.logits([ids[:10]], cache)[0]]  # prefill part of the prompt, then one token at a time
    assert cache.length == 10
    for i in ids[10:]:
        step = under.logits([[i]], cache)
        assert step.dtype == np.float32 and step.shape == (1, 1, 49152)  # no float64 creeping in
        parts.append(step[0])
    assert cache.length == len(ids)
    diff, bound = float(np.abs(np.concatenate(parts) - full).max()), logit_bound(under.model, full)
    assert diff <= bound, f"{under.name}: max |cached - recomputed| {diff:.2e} > {bound:.2e}"


def test_batch_rows_and_selected_cache_rows_are_independent(under: Under, prompts: dict[str, list[int]]) -> None:
    """Beam and contrastive search run several sequences as one batch, from rows picked out of a cache."""
    a, b = prompts["france"], prompts["france"][::-1]
    both = under.logits([a, b])
    alone = [under.logits([a])[0], under.logits([b])[0]]
    bound = logit_bound(under.model, both)
    for row, expected in enumerate(alone):
        np.testing.assert_allclose(both[row], expected, rtol=0, atol=bound)
    cache = under.engine.new_cache(2, len(a) + 1)
    under.logits([a, b], cache)
    cache = cache.select([1, 1, 0])  # repeat one row, drop none, reorder
    assert cache.length == len(a) and cache.batch == 3
    step = under.logits([[7042], [30], [7042]], cache, last_only=True)[:, -1]  # (3, V)
    for row, seq in enumerate([b + [7042], b + [30], a + [7042]]):
        np.testing.assert_allclose(step[row], under.logits([seq])[0, -1], rtol=0, atol=bound)


# ----------------------------------------------------------------------------- decoding


@pytest.mark.parametrize("name", ["france", "chat", "unicode"])
def test_greedy_matches_transformers(under: Under, ref: Reference, prompts: dict[str, list[int]],
                                     name: str) -> None:
    ids = prompts[name]
    assert generate(under.model, ids, max_new_tokens=10, engine=under.kind).ids == ref.generate(ids, max_new_tokens=10)


def test_greedy_with_repetition_penalty_matches_transformers(under: Under, ref: Reference) -> None:
    ids = under.model.tokenizer.encode("Three fruits: apple, banana,")
    got = generate(under.model, ids, max_new_tokens=12, repetition_penalty=1.5, engine=under.kind).ids
    assert got == ref.generate(ids, max_new_tokens=12, repetition_penalty=1.5)
    assert got != ref.generate(ids, max_new_tokens=12)  # the penalty did change something


BEAM_SETTINGS = [
    ("france", dict(num_beams=3, length_penalty=1.0, early_stopping=False)),
    ("chat", dict(num_beams=4, length_penalty=1.0, early_stopping=True)),
    ("story", dict(num_beams=2, length_penalty=0.5, early_stopping="never")),
]


@pytest.mark.parametrize("name,settings", BEAM_SETTINGS, ids=[s[0] for s in BEAM_SETTINGS])
def test_beam_search_matches_transformers(under: Under, ref: Reference, prompts: dict[str, list[int]], name: str,
                                          settings: dict[str, Any]) -> None:
    ids = prompts[name]
    got = generate(under.model, ids, "beam", max_new_tokens=10, engine=under.kind, **settings).ids
    expected = ref.generate(ids, max_new_tokens=10, **settings)
    assert got == expected, name
    if name == "france":  # otherwise the agreement would not show that beam search is more than greedy
        assert expected != ref.generate(ids, max_new_tokens=10)


@pytest.mark.parametrize("name,top_k,alpha", [("france", 4, 0.6), ("story", 3, 0.5)])
def test_contrastive_search_matches_reference(under: Under, ref: Reference, prompts: dict[str, list[int]], name: str,
                                              top_k: int, alpha: float) -> None:
    ids = prompts[name]
    got = generate(under.model, ids, "contrastive", max_new_tokens=8, top_k=top_k, penalty_alpha=alpha,
                   engine=under.kind).ids
    expected = ref.contrastive(ids, top_k, alpha, 8)
    assert got == expected, name
    if name == "france":  # the penalty term changes the choice: this is more than greedy decoding
        assert expected != ref.generate(ids, max_new_tokens=len(expected))[: len(expected)]


@pytest.mark.parametrize("strategy,params", [("greedy", {}), ("beam", {"num_beams": 2}),
                                             ("contrastive", {"top_k": 3})])
def test_same_tokens_without_the_cache(under: Under, prompts: dict[str, list[int]], strategy: str,
                                       params: dict[str, Any]) -> None:
    ids = prompts["story"]
    kw = dict(max_new_tokens=5, engine=under.kind, **params)
    assert (generate(under.model, ids, strategy, use_cache=False, **kw).ids
            == generate(under.model, ids, strategy, **kw).ids)


@pytest.mark.parametrize("strategy,params", [("top-p", {"top_p": 0.9, "temperature": 0.8}), ("min-p", {}),
                                             ("top-k", {"top_k": 40})])
def test_seeded_sampling_gives_the_same_ids_on_every_engine(under: Under, smollm: Llama, strategy: str,
                                                            params: dict[str, Any]) -> None:
    prompt = "Once upon a time, a small robot"
    fused = [b.attn.fused for b in smollm.blocks]
    for b in smollm.blocks:
        b.attn.fused = True
    try:
        expected = generate(smollm, prompt, strategy, 10, seed=0, **params).ids  # torch, fused attention
    finally:
        for b, f in zip(smollm.blocks, fused):
            b.attn.fused = f
    assert generate(under.model, prompt, strategy, 10, seed=0, engine=under.kind, **params).ids == expected


# ----------------------------------------------------------------------------- errors


BAD_FORWARD = [
    ([1, 2], "ids must have shape (batch, tokens), got (2,)"),
    ([[]], "ids must have shape (batch, tokens), got (1, 0)"),
    ([[1.0, 2.0]], "token ids must be integers, got float"),
    ([[True, False]], "token ids must be integers, got bool"),
    ([[1, 49152]], "token ids [49152] are outside the vocabulary 0..49151"),
    ([[-3]], "token ids [-3] are outside the vocabulary 0..49151"),
    (np.zeros((1, 8193), dtype=np.int64), "8193 tokens exceed the context length 8192"),
]


@pytest.mark.parametrize("ids,message", BAD_FORWARD, ids=[m for _, m in BAD_FORWARD])
def test_bad_forward_input_is_the_same_error_everywhere(under: Under, ids: Any, message: str) -> None:
    with pytest.raises(ValueError) as e:
        under.logits(ids)
    assert message in str(e.value)


def test_cache_errors_are_the_same_everywhere(under: Under) -> None:
    with pytest.raises(ValueError, match=r"max_len must be an integer between 1 and 8192 \(the context length\), "
                                         "got 8193"):
        under.engine.new_cache(1, 8193)
    with pytest.raises(ValueError, match="batch must be an integer >= 1, got 0"):
        under.engine.new_cache(0, 4)
    cache = under.engine.new_cache(1, 4)
    under.logits([[1, 2, 3]], cache)
    with pytest.raises(ValueError, match=r"5 tokens do not fit the cache of 4 positions"):
        under.logits([[4, 5]], cache)
    with pytest.raises(ValueError, match="ids have 2 rows but the cache holds 1 sequences"):
        under.logits([[4], [5]], cache)
    assert cache.length == 3  # a refused call changes nothing


BAD_GENERATE = [
    (dict(prompt=[1.0, 2.0]), "prompt token ids must be integers, got 1.0 (float) at position 0"),
    (dict(prompt=[[1, 2], [3, 4]]), "a 2-D prompt must have exactly one row"),
    (dict(prompt=[1, 49152]), "prompt token ids [49152] are outside the vocabulary 0..49151"),
    (dict(strategy="beam", num_beams=24577), "num_beams must be an integer between 1 and 24576"),
    (dict(strategy="contrastive", top_k=49153), "top_k must be an integer between 1 and 49152"),
    (dict(strategy="sample", seed=2**64), "seed must be an integer in [0, 2**64), got 18446744073709551616"),
    (dict(engine="gpu"), "unknown engine 'gpu'; choose one of torch, numpy"),
]


@pytest.mark.parametrize("kwargs,message", BAD_GENERATE, ids=[m for _, m in BAD_GENERATE])
def test_bad_generate_input_is_the_same_error_everywhere(under: Under, kwargs: dict[str, Any], message: str) -> None:
    kwargs = {"prompt": "Hello", "engine": under.kind, **kwargs}
    with pytest.raises(ValueError) as e:
        generate(under.model, **kwargs)
    assert message in str(e.value)
