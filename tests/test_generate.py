"""llmbook.inference.generate on the real model: logits processors, stopping, streaming, checks of every input.

- temperature, top-k, top-p, min-p and repetition penalty: the filtered logits equal
  those of `transformers`' logits processors on real logits, value for value;
- greedy, beam and contrastive search against `transformers`, and the KV cache against
  recomputation, run on every engine in ``test_engines.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import torch

from helpers import one_torch_thread
from llmbook.inference.generate import _TextStream, generate, stream
from llmbook.inference.strategies import BeamParams, SamplingParams as Sampling
from llmbook.models.llama import Llama
from llmbook.inference.sampling import (SamplingParams, apply_temperature, min_p_filter, process_logits, repetition_penalty,
                              top_k_filter, top_p_filter)

transformers = pytest.importorskip("transformers")
from transformers.generation import logits_process as lp  # noqa: E402

EOS = 2  # <|im_end|>


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    with one_torch_thread():
        yield


@pytest.fixture(scope="module")
def ours(smollm: Llama) -> Llama:
    return smollm


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


def test_contrastive_search_is_not_greedy(ours: Llama) -> None:
    ids = prompts(ours)["france"]
    greedy = generate(ours, ids, max_new_tokens=6).ids
    assert generate(ours, ids, "contrastive", max_new_tokens=6).ids != greedy
    # alpha = 0 leaves only the probability term: greedy
    assert generate(ours, ids, "contrastive", max_new_tokens=6, penalty_alpha=0.0).ids == greedy


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
    assert int(kept.sum()) >= 1  # a filter never removes every token
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


def test_stream_yields_each_token_and_then_holds_the_result(ours: Llama) -> None:
    s = stream(ours, "Once upon a time, a small robot", "top-k", max_new_tokens=10, seed=4)
    with pytest.raises(RuntimeError, match="has not been read to the end"):
        s.result  # noqa: B018
    pieces = list(s)
    g = generate(ours, "Once upon a time, a small robot", "top-k", max_new_tokens=10, seed=4)
    assert [p.id for p in pieces if p.id >= 0] == g.ids == s.result.ids and len(g.ids) == 10
    assert "".join(p.text for p in pieces) == g.text == s.result.text
    with pytest.raises(RuntimeError, match="can be read once"):
        list(s)


def test_a_stream_stopped_at_eos_holds_the_result(ours: Llama) -> None:
    s = stream(ours, "Name one colour. One word.", chat=True, max_new_tokens=20)
    ids = [p.id for p in s]
    assert s.result.stop_reason == "eos" and s.result.ids == [i for i in ids if i >= 0] and ids[-1] == EOS


def test_strategy_given_as_a_parameters_object(ours: Llama) -> None:
    ids = prompts(ours)["france"]
    assert (generate(ours, ids, BeamParams(num_beams=3), max_new_tokens=6).ids
            == generate(ours, ids, "beam", max_new_tokens=6, num_beams=3).ids)
    assert (generate(ours, ids, Sampling(top_k=1), max_new_tokens=4, seed=1).ids
            == generate(ours, ids, max_new_tokens=4).ids)
    with pytest.raises(ValueError, match="give the parameters num_beams in the strategy object"):
        generate(ours, ids, BeamParams(), num_beams=3)


def test_text_stream_holds_back_partial_characters(ours: Llama) -> None:
    tok = ours.tokenizer
    text = "日本語 «π» 🙂"
    ids = tok.encode(text)
    assert len(ids) > len(text.replace(" ", ""))  # some characters take several tokens
    s = _TextStream(tok, [], None)
    pieces = [s.push(i) for i in ids] + [s.flush()]
    assert all("\ufffd" not in p for p in pieces)
    assert "".join(pieces) == text


class _ByteSpy:
    """A tokenizer that counts the bytes it is asked to decode."""

    def __init__(self, tok) -> None:
        self.tok, self.bytes = tok, 0

    def decode_bytes(self, ids):
        out = self.tok.decode_bytes(ids)
        self.bytes += len(out)
        return out

    def decode(self, ids, errors="replace"):
        return self.decode_bytes(ids).decode("utf-8", errors)


@pytest.mark.parametrize("stop", [[], ["never appears, but long enough to be held back"]])
def test_streaming_decodes_each_byte_once(ours: Llama, stop) -> None:
    """Catches a stream that decodes the whole text at every token (quadratic: 0.055 ms a token at 500
    tokens, 1.18 ms at 8,000): the spy counts every byte decoded, which must be each token's bytes once."""
    tok = ours.tokenizer
    ids = tok.encode("The quick brown fox jumps over the lazy dog. " * 40)  # 400 tokens
    spy = _ByteSpy(tok)
    s = _TextStream(spy, stop, None)
    text = "".join(s.push(i) for i in ids) + s.flush()
    assert text == tok.decode(ids)
    assert spy.bytes == len(tok.decode_bytes(ids))


def test_beam_stop_check_reads_only_the_tail(ours: Llama) -> None:
    """Catches a beam stop check that decodes whole candidates (quadratic over a long search): it may
    decode only the last tokens a stop string could span, and still finds one split across tokens."""
    tok = ours.tokenizer
    ids = tok.encode("word " * 300 + "The end.")
    spy = _ByteSpy(tok)
    s = _TextStream(spy, ["The end."], None)
    assert s.check(ids) and not s.check(ids[:-1])
    assert spy.bytes < len(tok.decode_bytes(ids)) / 10  # two checks of ~1,500 bytes read under 150


@pytest.mark.parametrize("text, stop", [
    ("Hello world, and then more", "o w"),  # across tokens
    ("日本語のテキスト、そして", "語の"),  # CJK, several bytes a character
    ("I like 🙂 and 🙃 a lot", "🙃"),  # an emoji split over byte-level tokens
    ("abc abc abd", "abd"),  # a false start first
])
def test_stop_strings_split_across_tokens_give_the_same_pieces(ours: Llama, text, stop) -> None:
    """Catches a tail search that misses a stop string begun in an earlier token, or sends part of it."""
    tok = ours.tokenizer
    ids = tok.encode(text)
    s = _TextStream(tok, [stop], None)
    pieces = []
    for i in ids:
        pieces.append(s.push(i))
        if s.stopped_at is not None:
            break
    pieces.append(s.flush())
    assert "".join(pieces) == text[: text.index(stop)]
    assert s.stopped_at == text.index(stop)
    assert all("\ufffd" not in p for p in pieces)


def test_chat_option_applies_the_template(ours: Llama) -> None:
    g = generate(ours, "Hi", chat=True, max_new_tokens=1)
    assert g.prompt_ids == ours.encode_chat([{"role": "user", "content": "Hi"}])


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize("kwargs,message", [
    (dict(strategy="nucleus"), "unknown strategy 'nucleus'; choose one of: greedy, sample, top-k"),
    (dict(strategy="top-p", top_p=1.5), "top_p must be in (0, 1], got 1.5"),
    (dict(strategy="sample", temperature=0), "temperature must be > 0, got 0"),
    (dict(strategy="sample", temperature=-1.0), "temperature must be > 0, got -1.0"),
    (dict(strategy="sample", temperature="0.5"), "temperature must be a finite number > 0, got '0.5' (str)"),
    (dict(strategy="sample", temperature=float("nan")), "temperature must be a finite number > 0, got nan"),
    (dict(strategy="top-k", top_k=0), "top_k must be an integer >= 1, got 0"),
    (dict(strategy="top-k", top_k=2.5), "top_k must be an integer >= 1, got 2.5"),
    (dict(strategy="top-k", top_k=True), "top_k must be an integer >= 1, got True"),
    (dict(strategy="min-p", min_p=2), "min_p must be in [0, 1], got 2"),
    (dict(strategy="min-p", min_p=None, top_p=float("inf")), "top_p must be a finite number in (0, 1], got inf"),
    (dict(strategy="beam", num_beams=0), "num_beams must be an integer >= 1, got 0"),
    (dict(strategy="beam", num_beams=3.0), "num_beams must be an integer >= 1, got 3.0"),
    (dict(strategy="beam", num_beams=25000), "num_beams must be an integer between 1 and 24576 (half the "
                                             "vocabulary of 49152"),
    (dict(strategy="beam", early_stopping="soon"), "early_stopping must be one of True, False, 'never', got 'soon'"),
    (dict(strategy="beam", length_penalty=float("nan")), "length_penalty must be a finite number, got nan"),
    (dict(strategy="contrastive", penalty_alpha=1.5), "penalty_alpha must be in [0, 1], got 1.5"),
    (dict(strategy="contrastive", top_k=100000), "top_k must be an integer between 1 and 49152 (the vocabulary "
                                                 "size), got 100000"),
    (dict(strategy="greedy", top_p=0.9), "top_p does not apply to strategy 'greedy' (its parameters: "
                                         "repetition_penalty)"),
    (dict(strategy="greedy", repetition_penalty=0), "repetition_penalty must be > 0, got 0"),
    (dict(max_new_tokens=0), "max_new_tokens must be an integer >= 1, got 0"),
    (dict(max_new_tokens=True), "max_new_tokens must be an integer >= 1, got True"),
    (dict(strategy="sample", seed=-1), "seed must be an integer in [0, 2**64), got -1"),
    (dict(strategy="sample", seed=1.5), "seed must be an integer in [0, 2**64), got 1.5"),
    (dict(stop=[".", 3]), "stop must be a string or a list of strings, got ['.', 3]"),
    (dict(eos_token_id="2"), "eos_token_id must be a token id, None or 'default', got '2'"),
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
    with pytest.raises(ValueError, match=r"prompt token ids \[49152\] are outside the vocabulary 0..49151"):
        generate(ours, [1, 49152])
    with pytest.raises(ValueError, match="chat=True needs the prompt as text"):
        generate(ours, [1, 2], chat=True)
    with pytest.raises(ValueError, match=r"prompt token ids must be integers, got 2.7 \(float\) at position 1"):
        generate(ours, [1, 2.7])  # not truncated to 2
    with pytest.raises(ValueError, match=r"prompt token ids must be integers, got True \(bool\) at position 0"):
        generate(ours, [True, 2])
    with pytest.raises(ValueError, match=r"prompt token ids must be integers, got 1.0 \(float\)"):
        generate(ours, torch.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match="a 2-D prompt must have exactly one row .* got 2 rows"):
        generate(ours, torch.tensor([[1, 2], [3, 4]]))
    with pytest.raises(ValueError, match="the prompt must be text or a sequence of token ids, got int"):
        generate(ours, 42)


def test_a_prompt_of_one_row_or_of_numpy_ids_is_accepted(ours: Llama) -> None:
    import numpy as np

    ids = prompts(ours)["france"]
    expected = generate(ours, ids, max_new_tokens=2).prompt_ids
    assert generate(ours, torch.tensor([ids]), max_new_tokens=2).prompt_ids == expected == ids
    assert generate(ours, np.array(ids, dtype=np.int32), max_new_tokens=2).prompt_ids == ids
