"""From logits to text: one decoding loop, every strategy, either engine.

A language model only scores the next token. Generating text is a loop around it:

1. prefill: run the whole prompt once; the KV cache keeps every layer's keys and
   values, and the last position's logits score the first new token;
2. the *strategy* reads those logits and decides which tokens to emit and which
   tokens to run next (and, for beam and contrastive search, on which rows of a batch);
3. decode: run only those tokens, attending to the cache, to get the next logits;
   repeat until an end-of-sequence token, a stop string or the token budget.

Strategies (parameters in ``llmbook.inference.strategies``): ``greedy`` (argmax);
``sample`` with ``temperature``, ``top_k``, ``top_p``, ``min_p`` (and the shorthands
``top-k``, ``top-p``, ``min-p``); ``beam`` search (``num_beams``, ``length_penalty``,
``early_stopping``); ``contrastive`` search (``penalty_alpha``, ``top_k``).
``repetition_penalty`` works with all of them. Engines (``llmbook.inference.engine``):
the torch ``Llama`` itself (``engine="torch"``) or the same weights in NumPy
(``engine="numpy"``). The tests check greedy, beam and contrastive search token for
token against ``transformers`` on the same model, on both engines.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch

from llmbook.checks import count
from llmbook.inference.beam import BeamSearch
from llmbook.inference.contrastive import ContrastiveSearch
from llmbook.inference.engine import Cache, Engine, engine_for
from llmbook.inference.sampling import process_logits, sample
from llmbook.inference.strategies import (STRATEGIES, BeamParams, ContrastiveParams, GreedyParams, Params,
                                          SamplingParams, Step, check_seed, strategy_params)

__all__ = ["STRATEGIES", "Generation", "Piece", "Stream", "decode", "generate", "stream"]


@dataclass
class Piece:
    """One streamed step: the new token id and the text it adds (may be "" while a character is incomplete)."""

    id: int
    text: str


@dataclass
class Generation:
    """What ``generate`` returns."""

    prompt_ids: list[int]
    ids: list[int] = field(default_factory=list)  # new token ids, the end-of-sequence token included if produced
    text: str = ""  # their text, without the end-of-sequence token and cut before a stop string
    stop_reason: str = "length"  # "eos", "stop" (a stop string) or "length" (max_new_tokens)


# --------------------------------------------------------------------------- the loop


class Search(Protocol):
    """A strategy while it runs: reads the logits of the rows the loop ran, returns a ``Step``."""

    wants_hidden: bool  # does it need the last layer's hidden states? (contrastive search)

    def step(self, logits: torch.Tensor, hidden: torch.Tensor | None, seqs: torch.Tensor) -> Step: ...


def run_engine(engine: Engine, ids: torch.Tensor, cache: Cache | None,
               want_hidden: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Last-position logits (B, V) of ids (B, T), and the hidden states (B, T, C) if wanted, as torch tensors
    whichever engine computed them (a NumPy array becomes a tensor without a copy)."""
    out = engine.forward(ids, cache, last_only=True, want_hidden=want_hidden)
    logits, hidden = out if want_hidden else (out, None)
    return torch.as_tensor(logits)[:, -1], None if hidden is None else torch.as_tensor(hidden)


# --8<-- [start:loop]
@torch.inference_mode()
def decode(engine: Engine, prompts: Sequence[Sequence[int]], search: Search, max_new_tokens: int,
           use_cache: bool = True) -> Iterator[int]:
    """The loop of every strategy on every engine: yields new token ids as the strategy emits them.

    ``prompts`` are the starting rows, all of one length: one row for ``generate``, one per
    prompt for batched sampling (``llmbook.alignment.rollout``)."""
    seqs = torch.tensor([list(p) for p in prompts])  # (B, S): the running sequences, one row each
    cache = engine.new_cache(len(seqs), seqs.shape[1] + max_new_tokens) if use_cache else None
    logits, hidden = run_engine(engine, seqs, cache, search.wants_hidden)  # prefill: the whole prompt at once
    while True:
        step = search.step(logits, hidden, seqs)  # the strategy: tokens to emit, tokens to run next
        yield from step.emit
        if step.tokens is None:
            return
        if step.rows is not None:  # beam and contrastive search continue some rows, some several times
            seqs = seqs[step.rows]
            cache = cache.select(step.rows) if cache is not None else None
        new = torch.tensor(step.tokens)[:, None]  # (B, 1)
        seqs = torch.cat([seqs, new], dim=1)
        # decode: with the cache, only the new tokens; without it, every position again
        logits, hidden = run_engine(engine, new if cache is not None else seqs, cache, search.wants_hidden)
# --8<-- [end:loop]


# --8<-- [start:pick]
class Pick:
    """Greedy decoding (no ``generator``) and sampling: one token per row per step.

    A row is finished once it has produced ``eos``; it then runs ``eos`` again (the batch stays
    rectangular) and its output stops growing, as in transformers' ``_sample``. With one row the
    tokens are emitted as they come; with several, ``completions`` holds each row's tokens."""

    wants_hidden = False

    def __init__(self, params: SamplingParams, max_new_tokens: int, eos: int | None,
                 generator: torch.Generator | None) -> None:
        self.params, self.max_new_tokens, self.eos, self.generator = params, max_new_tokens, eos, generator
        self.n = 0  # steps taken
        self.completions: list[list[int]] = []  # each row's new tokens, eos included

    def step(self, logits: torch.Tensor, hidden: torch.Tensor | None, seqs: torch.Tensor) -> Step:
        if not self.completions:
            self.completions = [[] for _ in range(len(seqs))]
        tokens = []
        for row, out in enumerate(self.completions):
            if out and out[-1] == self.eos:  # finished: runs eos again, emits nothing
                tokens.append(self.eos)
                continue
            scores = process_logits(logits[row], self.params, seqs[row])  # penalty, temperature, filters
            token = int(scores.argmax()) if self.generator is None else sample(scores, self.generator)
            out.append(token)
            tokens.append(token)
        self.n += 1
        done = self.n == self.max_new_tokens or all(out and out[-1] == self.eos for out in self.completions)
        return Step(emit=tokens if len(tokens) == 1 else [], tokens=None if done else tokens)
# --8<-- [end:pick]


# --------------------------------------------------------------------------- inputs


def prompt_ids(model: Any, prompt: str | Sequence[int] | torch.Tensor | np.ndarray, chat: bool = False,
               system: str | None = None) -> list[int]:
    """Token ids of ``prompt``: a string (ChatML user turn when ``chat``) or integer ids, 1-D or one row."""
    if isinstance(prompt, str):
        if chat:
            messages = ([{"role": "system", "content": system}] if system else []) + [
                {"role": "user", "content": prompt}]
            ids = model.encode_chat(messages)
        else:
            ids = model.tokenizer.encode(prompt)
    else:
        if chat:
            raise ValueError("chat=True needs the prompt as text, not token ids")
        ids = _ids_of(prompt)
    if not ids:
        raise ValueError("the prompt is empty: the model needs at least one token to continue")
    vocab = model.config.vocab_size
    bad = [i for i in ids if not 0 <= i < vocab]
    if bad:
        raise ValueError(f"prompt token ids {bad[:5]} are outside the vocabulary 0..{vocab - 1}")
    return ids


def _ids_of(prompt: Any) -> list[int]:
    """Integer token ids of a 1-D sequence, or of a 2-D one with exactly one row."""
    rows = prompt.tolist() if isinstance(prompt, (torch.Tensor, np.ndarray)) else prompt
    if isinstance(rows, (int, float)) or not isinstance(rows, Sequence):
        raise ValueError(f"the prompt must be text or a sequence of token ids, got {type(prompt).__name__}")
    rows = list(rows)
    if rows and isinstance(rows[0], (list, tuple, torch.Tensor, np.ndarray)):
        if len(rows) != 1:
            raise ValueError(f"a 2-D prompt must have exactly one row (generation continues one sequence), "
                             f"got {len(rows)} rows")
        rows = _ids_of(rows[0])
    for n, i in enumerate(rows):
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)):
            raise ValueError(f"prompt token ids must be integers, got {i!r} ({type(i).__name__}) at position {n}")
    return [int(i) for i in rows]


def default_eos(model: Any) -> int | None:
    """The end-of-sequence id: the model's own if it has one, else ChatML's ``<|im_end|>`` or ``<|endoftext|>``."""
    eos = getattr(model, "eos_token_id", None)
    if eos is not None:
        return int(eos)
    special = getattr(model.tokenizer, "special", {})
    for name in ("<|im_end|>", "<|endoftext|>", "</s>"):
        if name in special:
            return special[name]
    return None


def check_length(model: Any, n_prompt: int, max_new_tokens: int) -> None:
    """The prompt plus the new tokens must fit in the model's context."""
    count("max_new_tokens", max_new_tokens)
    context = model.config.context_length
    if n_prompt + max_new_tokens > context:
        raise ValueError(f"prompt of {n_prompt} tokens + max_new_tokens={max_new_tokens} = "
                         f"{n_prompt + max_new_tokens} tokens exceeds the model's context length of {context}")


# --------------------------------------------------------------------------- text


class _TextStream:
    """Turns token ids into text pieces in time linear in the output: each token's bytes go once through an
    incremental UTF-8 decoder (which holds back a character until its last byte arrives), and stop strings
    are searched for only in the text not yet sent, which is all that can still hold the start of one."""

    def __init__(self, tokenizer: Any, stop: Sequence[str], eos: int | None) -> None:
        self.tokenizer, self.stop, self.eos = tokenizer, [s for s in stop if s], eos
        self.utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.chunks: list[str] = []  # the decoded text, in pieces (joined once, at the end)
        self.held = ""  # decoded but not sent: it may be the start of a stop string
        self.sent = 0  # characters of the text already emitted
        self.stopped_at: int | None = None  # where the first stop string starts, once one appears
        longest = max((len(s.encode()) for s in self.stop), default=0)
        self.tail_tokens = longest  # a stop string of n bytes ending in the last token lies in the last n tokens

    def text(self) -> str:
        return "".join(self.chunks)

    def push(self, token: int) -> str:
        if token == self.eos or self.stopped_at is not None:
            return ""
        new = self.utf8.decode(self.tokenizer.decode_bytes([token]))  # only this token's bytes
        self.chunks.append(new)
        return self._send(self.held + new, final=False)

    def flush(self) -> str:
        if self.stopped_at is not None:
            return ""
        new = self.utf8.decode(b"", final=True)  # an unfinished character at the very end
        self.chunks.append(new)
        return self._send(self.held + new, final=True)

    def _send(self, pending: str, final: bool) -> str:
        """Send ``pending`` (the unsent text) except a stop string and what follows it, or, unless
        ``final``, the longest end that could begin a stop string."""
        hits = [i for i in (pending.find(s) for s in self.stop) if i >= 0]
        if hits:
            self.stopped_at = self.sent + min(hits)
            piece, self.held = pending[: min(hits)], ""
        else:
            keep = 0 if final else self._stop_start(pending)
            piece, self.held = pending[: len(pending) - keep], pending[len(pending) - keep :]
        self.sent += len(piece)
        return piece

    def _stop_start(self, text: str) -> int:
        """Length of the longest end of ``text`` that a stop string starts with (0: none)."""
        for n in range(min(len(text), max(map(len, self.stop), default=1) - 1), 0, -1):
            if any(s.startswith(text[-n:]) for s in self.stop):
                return n
        return 0

    def check(self, new_ids: Sequence[int]) -> bool:
        """Does this candidate (for beam search) contain a stop string? Its text without the last token was
        checked the step before, so only the last tokens, those a stop string ending in the new one can span,
        are decoded."""
        if not self.stop:
            return False
        text = self.tokenizer.decode([i for i in new_ids[-self.tail_tokens :] if i != self.eos])
        return any(s in text for s in self.stop)


@dataclass
class _Request:
    ids: list[int]
    params: Params
    max_new_tokens: int
    seed: int | None
    eos: int | None
    stops: list[str]
    use_cache: bool
    engine: Engine


def _prepare(model: Any, prompt: Any, strategy: str | Params, max_new_tokens: int, seed: int | None,
             stop: str | Sequence[str] | None, chat: bool, system: str | None, eos_token_id: int | None | str,
             use_cache: bool, engine: str | Engine, params: dict[str, Any]) -> _Request:
    """Every check, in one place, before the first token: errors come at the call, not mid-stream."""
    if isinstance(strategy, (GreedyParams, SamplingParams, BeamParams, ContrastiveParams)):
        if params:
            raise ValueError(f"give the parameters {', '.join(sorted(params))} in the strategy object, not as well")
        p = strategy
    else:
        p = strategy_params(strategy, **params)
    p.check_model(model.config.vocab_size)
    check_seed(seed)
    ids = prompt_ids(model, prompt, chat, system)
    check_length(model, len(ids), max_new_tokens)
    eos = default_eos(model) if eos_token_id == "default" else eos_token_id
    if eos is not None and (isinstance(eos, bool) or not isinstance(eos, int)):
        raise ValueError(f"eos_token_id must be a token id, None or 'default', got {eos!r}")
    if stop is not None and not isinstance(stop, str) and not all(isinstance(s, str) for s in stop):
        raise ValueError(f"stop must be a string or a list of strings, got {stop!r}")
    stops = [stop] if isinstance(stop, str) else list(stop or [])
    return _Request(ids, p, max_new_tokens, seed, eos, stops, bool(use_cache), engine_for(model, engine))


def _search(r: _Request, text: _TextStream) -> Search:
    """The running form of the strategy ``r.params``."""
    p = r.params
    if isinstance(p, BeamParams):
        check = text.check if r.stops else None
        return BeamSearch(p, len(r.ids), r.max_new_tokens, r.eos, check)
    if isinstance(p, ContrastiveParams):
        return ContrastiveSearch(p, r.max_new_tokens, r.eos)
    generator = None
    if isinstance(p, SamplingParams):
        generator = torch.Generator()
        if r.seed is not None:
            generator.manual_seed(r.seed)
        else:
            generator.seed()
    else:
        p = SamplingParams(repetition_penalty=p.repetition_penalty)  # greedy: the penalty is the only processor
    return Pick(p, r.max_new_tokens, r.eos, generator)


class Stream:
    """Pieces of generated text, one per token, as they are made; ``result`` is the ``Generation`` once
    iteration has finished (or was stopped early by a stop string or the end-of-sequence token)."""

    def __init__(self, model: Any, request: _Request) -> None:
        self.model, self.request = model, request
        self._result: Generation | None = None
        self._started = False

    @property
    def result(self) -> Generation:
        if self._result is None:
            raise RuntimeError("the stream has not been read to the end yet: iterate over it first")
        return self._result

    def __iter__(self) -> Iterator[Piece]:
        if self._started:
            raise RuntimeError("a stream can be read once; call stream(...) again for another run")
        self._started = True
        r = self.request
        text = _TextStream(self.model.tokenizer, r.stops, r.eos)
        result = Generation(prompt_ids=r.ids)
        for token in decode(r.engine, [r.ids], _search(r, text), r.max_new_tokens, r.use_cache):
            result.ids.append(token)
            yield Piece(token, text.push(token))
            if token == r.eos:
                result.stop_reason = "eos"
                break
            if text.stopped_at is not None:
                result.stop_reason = "stop"
                break
        tail = text.flush()
        if tail:
            yield Piece(-1, tail)  # text held back until the end (no new token)
        result.text = text.text()[: text.stopped_at] if text.stopped_at is not None else text.text()
        self._result = result


def stream(model: Any, prompt: str | Sequence[int] | torch.Tensor, strategy: str | Params = "greedy",
           max_new_tokens: int = 32, seed: int | None = None, *, stop: str | Sequence[str] | None = None,
           chat: bool = False, system: str | None = None, eos_token_id: int | None | str = "default",
           use_cache: bool = True, engine: str | Engine = "torch", **params: Any) -> Stream:
    """A ``Stream`` of ``Piece(id, text)`` as tokens are generated (beam search gives them all at the end).

    The pieces' texts join to the generated text. A final piece with id -1 may carry
    text held back while it could have been the start of a stop string. Every argument
    is checked here, before the first token.
    """
    return Stream(model, _prepare(model, prompt, strategy, max_new_tokens, seed, stop, chat, system,
                                  eos_token_id, use_cache, engine, params))


def generate(model: Any, prompt: str | Sequence[int] | torch.Tensor, strategy: str | Params = "greedy",
             max_new_tokens: int = 32, seed: int | None = None, *, stop: str | Sequence[str] | None = None,
             chat: bool = False, system: str | None = None, eos_token_id: int | None | str = "default",
             use_cache: bool = True, engine: str | Engine = "torch", **params: Any) -> Generation:
    """Continue ``prompt`` (text, or token ids) with ``strategy``: a name in ``STRATEGIES`` with its parameters
    as keywords, or a parameters object such as ``BeamParams(num_beams=3)``.

    Stops at the end-of-sequence token (the model's, unless ``eos_token_id`` is
    given; None never stops early), at any of the ``stop`` strings, or after
    ``max_new_tokens``. Sampling strategies with the same ``seed`` give the same text.
    ``engine="numpy"`` runs the same loop on :class:`~llmbook.inference.numpy_engine.NumpyLlama`,
    the same weights in NumPy (about twice as fast on a CPU).
    """
    pieces = stream(model, prompt, strategy, max_new_tokens, seed, stop=stop, chat=chat, system=system,
                    eos_token_id=eos_token_id, use_cache=use_cache, engine=engine, **params)
    for _ in pieces:
        pass
    return pieces.result
