"""From logits to text: decoding strategies on a real model, with a KV cache.

A language model only scores the next token. Generating text is a loop around it:

1. prefill: run the whole prompt once; the KV cache keeps every layer's keys and
   values, and the last position's logits score the first new token;
2. pick a token from those logits (the *strategy*);
3. decode: run only that token, attending to the cache, to get the next logits;
   repeat until an end-of-sequence token, a stop string or the token budget.

Strategies: ``greedy`` (argmax); ``sample`` with ``temperature``, ``top_k``, ``top_p``,
``min_p`` (and the shorthands ``top-k``, ``top-p``, ``min-p``); ``beam`` search
(``num_beams``, ``length_penalty``, ``early_stopping``); ``contrastive`` search
(``penalty_alpha``, ``top_k``). ``repetition_penalty`` works with all of them. The
tests check greedy, beam and contrastive search token for token against
``transformers`` on the same model.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from llmbook.inference.kv_cache import KVCache
from llmbook.inference.numpy_engine import NumpyLlama
from llmbook.inference.sampling import SamplingParams, process_logits, repetition_penalty, sample

# strategy -> its parameters and their defaults (repetition_penalty applies to every strategy)
STRATEGIES: dict[str, dict[str, Any]] = {
    "greedy": {},
    "sample": {"temperature": 1.0, "top_k": None, "top_p": None, "min_p": None},
    "top-k": {"temperature": 1.0, "top_k": 50, "top_p": None, "min_p": None},
    "top-p": {"temperature": 1.0, "top_k": None, "top_p": 0.9, "min_p": None},
    "min-p": {"temperature": 1.0, "top_k": None, "top_p": None, "min_p": 0.1},
    "beam": {"num_beams": 4, "length_penalty": 1.0, "early_stopping": False},
    "contrastive": {"penalty_alpha": 0.6, "top_k": 4},
}
SAMPLING = ("sample", "top-k", "top-p", "min-p")


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


# --------------------------------------------------------------------------- inputs


def prompt_ids(model: Any, prompt: str | Sequence[int] | torch.Tensor, chat: bool = False,
               system: str | None = None) -> list[int]:
    """Token ids of ``prompt``: a string (ChatML user turn when ``chat``) or ids as they are."""
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
        ids = [int(i) for i in (prompt.flatten().tolist() if isinstance(prompt, torch.Tensor) else prompt)]
    if not ids:
        raise ValueError("the prompt is empty: the model needs at least one token to continue")
    vocab = model.config.vocab_size
    bad = [i for i in ids if not 0 <= i < vocab]
    if bad:
        raise ValueError(f"prompt token ids {bad[:5]} are outside the vocabulary 0..{vocab - 1}")
    return ids


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


def check_params(strategy: str, params: dict[str, Any]) -> dict[str, Any]:
    """The strategy's parameters with defaults filled in; a clear ValueError for anything wrong."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; choose one of: {', '.join(STRATEGIES)}")
    allowed = {**STRATEGIES[strategy], "repetition_penalty": None}
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ValueError(f"{', '.join(unknown)} does not apply to strategy {strategy!r} "
                         f"(its parameters: {', '.join(allowed)})")
    p = {**allowed, **params}
    if strategy in SAMPLING:
        SamplingParams(**{k: p[k] for k in ("temperature", "top_k", "top_p", "min_p", "repetition_penalty")})
    else:
        SamplingParams(repetition_penalty=p["repetition_penalty"])
    if strategy == "beam":
        if isinstance(p["num_beams"], bool) or not isinstance(p["num_beams"], int) or p["num_beams"] < 1:
            raise ValueError(f"num_beams must be an integer >= 1, got {p['num_beams']!r}")
        if p["early_stopping"] not in (True, False, "never"):
            raise ValueError(f"early_stopping must be True, False or 'never', got {p['early_stopping']!r}")
        if not isinstance(p["length_penalty"], (int, float)) or isinstance(p["length_penalty"], bool):
            raise ValueError(f"length_penalty must be a number, got {p['length_penalty']!r}")
    if strategy == "contrastive":
        if isinstance(p["top_k"], bool) or not isinstance(p["top_k"], int) or p["top_k"] < 1:
            raise ValueError(f"top_k must be an integer >= 1, got {p['top_k']!r}")
        if not 0 <= p["penalty_alpha"] <= 1:
            raise ValueError(f"penalty_alpha must be in [0, 1], got {p['penalty_alpha']}")
    return p


def check_length(model: Any, n_prompt: int, max_new_tokens: int) -> None:
    """The prompt plus the new tokens must fit in the model's context."""
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be an integer >= 1, got {max_new_tokens!r}")
    context = model.config.context_length
    if n_prompt + max_new_tokens > context:
        raise ValueError(f"prompt of {n_prompt} tokens + max_new_tokens={max_new_tokens} = "
                         f"{n_prompt + max_new_tokens} tokens exceeds the model's context length of {context}")


# --------------------------------------------------------------------------- the model, one step


def forward(model: Any, ids: torch.Tensor, cache: KVCache | None, want_hidden: bool = False,
            last_only: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Logits of ``ids`` (B, T): (B, 1, V) for the last position only, or (B, T, V) with ``last_only=False``;
    and the last layer's hidden states (B, T, C) if ``want_hidden``.

    Generation needs only the last position's logits, and the output layer (V x C,
    a fifth of this model's weights) would cost T times as much for all T rows. Hooks
    slice the output layer's input and capture the final norm's output, so the
    model's own forward runs unchanged.
    """
    hooks, captured = [], []
    if want_hidden:
        hooks.append(model.norm.register_forward_hook(lambda _m, _i, out: captured.append(out)))
    if last_only and getattr(model, "output", None) is not None:
        hooks.append(model.output.register_forward_pre_hook(lambda _m, args: (args[0][:, -1:],)))
    try:
        logits = model(ids, cache)
    finally:
        for h in hooks:
            h.remove()
    return logits, captured[-1] if want_hidden else None


def next_logits(model: Any, ids: torch.Tensor, cache: KVCache | None) -> torch.Tensor:
    """The logits (B, V) for the token after ``ids`` (B, T)."""
    return forward(model, ids, cache)[0][:, -1]


def select_rows(cache: KVCache, rows: torch.Tensor) -> KVCache:
    """A cache holding batch rows ``rows`` of ``cache`` (repeat, reorder or pick sequences)."""
    out = KVCache(len(cache.keys))
    out.keys = [None if k is None else k.index_select(0, rows) for k in cache.keys]
    out.values = [None if v is None else v.index_select(0, rows) for v in cache.values]
    return out


ENGINES = ("torch", "numpy")
_NUMPY_ENGINES: weakref.WeakKeyDictionary[Any, NumpyLlama] = weakref.WeakKeyDictionary()


def numpy_engine(model: Any) -> NumpyLlama:
    """The model's weights as a :class:`NumpyLlama`, converted once per model."""
    if model not in _NUMPY_ENGINES:
        _NUMPY_ENGINES[model] = NumpyLlama.from_model(model)
    return _NUMPY_ENGINES[model]


def _logits_function(model: Any, tokens: list[int], max_new_tokens: int, use_cache: bool,
                     engine: str) -> Callable[[list[int]], torch.Tensor]:
    """``logits_of(new_ids) -> (V,)``: next-token logits after feeding ``new_ids`` to the chosen engine.

    With a cache only the new ids are fed; without one, the whole of ``tokens`` (which the
    caller keeps up to date) is recomputed each time.
    """
    if engine == "numpy":
        np_model = numpy_engine(model)
        np_cache = np_model.new_cache(len(tokens) + max_new_tokens) if use_cache else None
        return lambda new: torch.from_numpy(
            np_model.forward(new if np_cache is not None else tokens, np_cache, last_only=True)[0])
    cache = KVCache(model.config.n_layers) if use_cache else None
    return lambda new: next_logits(model, torch.tensor([new if cache is not None else tokens]), cache)[0]


# --------------------------------------------------------------------------- strategies


# --8<-- [start:loop]
@torch.inference_mode()
def sample_tokens(model: Any, prompt: list[int], params: SamplingParams, max_new_tokens: int,
                  eos: int | None, generator: torch.Generator | None, use_cache: bool = True,
                  engine: str = "torch") -> Iterator[int]:
    """Greedy (``generator`` None) or sampled tokens, one at a time, with or without the KV cache."""
    tokens = list(prompt)
    logits_of = _logits_function(model, tokens, max_new_tokens, use_cache, engine)
    logits = logits_of(tokens)  # prefill: the whole prompt in one pass
    for step in range(max_new_tokens):
        scores = process_logits(logits, params, torch.tensor(tokens))
        token = int(scores.argmax()) if generator is None else sample(scores, generator)
        yield token
        tokens.append(token)
        if token == eos or step == max_new_tokens - 1:
            return
        logits = logits_of([token])  # decode: one new token with the cache; without it, every position again
# --8<-- [end:loop]


# --8<-- [start:contrastive]
@torch.inference_mode()
def contrastive_tokens(model: Any, prompt: list[int], top_k: int, penalty_alpha: float, max_new_tokens: int,
                       eos: int | None, rep_penalty: float | None = None, use_cache: bool = True) -> Iterator[int]:
    """Contrastive search (Su et al., 2022): among the top-k tokens pick

    $$\\arg\\max_{v} \\; (1-\\alpha)\\, p(v \\mid x) - \\alpha \\max_j \\cos(h_v, h_j)$$

    where $h_v$ is the last hidden state of candidate $v$ and $h_j$ those of every
    earlier token: likely, but unlike anything already said.
    """
    tokens = list(prompt)
    cache = KVCache(model.config.n_layers) if use_cache else None
    logits, hidden = forward(model, torch.tensor([tokens]), cache, want_hidden=True)
    logits, context = logits[0, -1], hidden[0]  # (V,), (S, C)
    for step in range(max_new_tokens):
        if rep_penalty not in (None, 1.0):
            logits = repetition_penalty(logits, torch.tensor(tokens), rep_penalty)
        probs, candidates = logits.softmax(-1).topk(top_k)  # (k,), (k,)
        if cache is not None:  # all k candidates in one batch, each on a copy of the cache
            cand_cache = select_rows(cache, torch.zeros(top_k, dtype=torch.long))
            cand_logits, cand_hidden = forward(model, candidates[:, None], cand_cache, want_hidden=True)
        else:
            seqs = torch.cat([torch.tensor([tokens]).expand(top_k, -1), candidates[:, None]], dim=1)
            cand_logits, cand_hidden = forward(model, seqs, None, want_hidden=True)
        h = cand_hidden[:, -1]  # (k, C)
        cos = torch.nn.functional.normalize(h, dim=-1) @ torch.nn.functional.normalize(context, dim=-1).T  # (k, S)
        score = (1 - penalty_alpha) * probs - penalty_alpha * cos.max(dim=-1).values
        best = int(score.argmax())
        token = int(candidates[best])
        yield token
        tokens.append(token)
        if token == eos or step == max_new_tokens - 1:
            return
        logits, context = cand_logits[best, -1], torch.cat([context, h[best : best + 1]])
        if cache is not None:
            cache = select_rows(cand_cache, torch.tensor([best]))
# --8<-- [end:contrastive]


# --8<-- [start:beam]
@torch.inference_mode()
def beam_tokens(model: Any, prompt: list[int], num_beams: int, length_penalty: float,
                early_stopping: bool | str, max_new_tokens: int, eos: int | None,
                rep_penalty: float | None = None, stop_check: Any = None) -> list[int]:
    """Beam search, as ``transformers`` runs it; returns the best finished hypothesis's new tokens.

    Keep the ``num_beams`` best partial sequences by total log-probability
    $\\sum_t \\log p(y_t \\mid y_{<t})$. Each step scores every beam's every next token,
    takes the best $2 \\times$ ``num_beams``, moves those ending (EOS, stop string or
    the length limit) to the finished list with score $\\text{logprob} / L^{\\lambda}$
    ($L$ new tokens, $\\lambda$ = ``length_penalty``), and keeps the best ``num_beams``
    others running. It stops when every candidate ends, or (``early_stopping``) when
    no running beam can beat the finished ones.
    """
    n_prompt, max_len, vocab = len(prompt), len(prompt) + max_new_tokens, model.config.vocab_size
    keep = 2 * num_beams
    cache = KVCache(model.config.n_layers)
    logits = next_logits(model, torch.tensor([prompt]), cache)  # (1, V): one beam to start with
    seqs = torch.tensor([prompt])  # (beams, cur_len)
    running = torch.zeros(1)  # running beams' total log-probs
    done_scores = torch.full((num_beams,), -1e9)  # finished hypotheses: score, tokens, finished?
    done_seqs: list[list[int]] = [[] for _ in range(num_beams)]
    done = torch.zeros(num_beams, dtype=torch.bool)
    improvable = True
    cur_len = n_prompt
    while True:
        logp = torch.log_softmax(logits, dim=-1)  # (beams, V)
        if rep_penalty not in (None, 1.0):
            logp = repetition_penalty(logp, seqs, rep_penalty)
        top, flat = (logp + running[:, None]).view(-1).topk(keep)  # best 2*num_beams (beam, token) pairs
        parent, token = flat // vocab, flat % vocab
        cand = torch.cat([seqs[parent], token[:, None]], dim=1)  # (2*num_beams, cur_len + 1)
        ends = torch.tensor([cur_len + 1 >= max_len or int(t) == eos or bool(stop_check and stop_check(c[n_prompt:]))
                             for t, c in zip(token, cand)])
        # running beams for the next step: the best num_beams candidates that did not end
        pick = (top - 1e9 * ends.float()).topk(num_beams).indices
        seqs, running, parents = cand[pick], (top - 1e9 * ends.float())[pick], parent[pick]
        # finished hypotheses: ended candidates among the best num_beams, length-normalised
        new_scores = top / (cur_len + 1 - n_prompt) ** length_penalty
        if bool(done.all()) and early_stopping is True or not improvable:
            new_scores = new_scores - 1e9
        just_done = ends & (torch.arange(keep) < num_beams)
        new_scores = new_scores + (~just_done).float() * -1e9
        merged = torch.cat([done_scores, new_scores]).topk(num_beams).indices
        all_seqs = done_seqs + [c[n_prompt:].tolist() for c in cand]
        all_done = torch.cat([done, just_done])
        done_scores, done = torch.cat([done_scores, new_scores])[merged], all_done[merged]
        done_seqs = [all_seqs[i] for i in merged.tolist()]
        cur_len += 1
        # can a running beam still beat the worst finished one?
        best_len = max_len - n_prompt if early_stopping == "never" and length_penalty > 0 else cur_len - n_prompt
        best_possible = running[0] / best_len**length_penalty
        worst_done = torch.where(done, done_scores.min(), torch.tensor(-1e9))
        improvable = improvable and bool((best_possible > worst_done).any())
        if not improvable or (bool(done.all()) and early_stopping is True) or bool(ends.all()):
            return done_seqs[0]
        cache = select_rows(cache, parents)  # each running beam continues from its parent's cache
        logits = next_logits(model, seqs[:, -1:], cache)
# --8<-- [end:beam]


# --------------------------------------------------------------------------- text


class _TextStream:
    """Turns token ids into text pieces: holds back half-decoded characters and possible stop-string starts."""

    def __init__(self, tokenizer: Any, stop: Sequence[str], eos: int | None) -> None:
        self.tokenizer, self.stop, self.eos = tokenizer, list(stop), eos
        self.ids: list[int] = []
        self.sent = 0  # characters of the text already emitted
        self.stopped_at: int | None = None  # where the first stop string starts, once one appears

    def text(self) -> str:
        return self.tokenizer.decode([i for i in self.ids if i != self.eos])

    def push(self, token: int) -> str:
        self.ids.append(token)
        text = self.text()
        hits = [text.find(s) for s in self.stop if s and s in text]
        if hits:
            self.stopped_at = min(hits)
            return self._emit(text, self.stopped_at)
        safe = len(text)
        while safe > 0 and text[safe - 1] == "\ufffd" and len(text) - safe < 3:
            safe -= 1  # a multi-byte character may be completed by the next token
        for s in self.stop:  # keep back a tail that could be the start of a stop string
            for n in range(min(len(s) - 1, len(text)), 0, -1):
                if text.endswith(s[:n]):
                    safe = min(safe, len(text) - n)
                    break
        return self._emit(text, safe)

    def flush(self) -> str:
        text = self.text()
        return self._emit(text, len(text) if self.stopped_at is None else self.stopped_at)

    def _emit(self, text: str, upto: int) -> str:
        piece = text[self.sent : upto] if upto > self.sent else ""
        self.sent = max(self.sent, upto)
        return piece

    def check(self, new_ids: Sequence[int]) -> bool:
        """Does this token sequence contain a stop string? (for beam search candidates)"""
        text = self.tokenizer.decode([i for i in new_ids if i != self.eos])
        return any(s and s in text for s in self.stop)


@dataclass
class _Request:
    ids: list[int]
    strategy: str
    params: dict[str, Any]
    max_new_tokens: int
    seed: int | None
    eos: int | None
    stops: list[str]
    use_cache: bool
    engine: str = "torch"


def _prepare(model: Any, prompt: str | Sequence[int] | torch.Tensor, strategy: str, max_new_tokens: int,
             seed: int | None, stop: str | Sequence[str] | None, chat: bool, system: str | None,
             eos_token_id: int | None | str, use_cache: bool, params: dict[str, Any],
             engine: str = "torch") -> _Request:
    """Check everything before the first token, so errors come at the call, not mid-stream."""
    p = check_params(strategy, params)
    ids = prompt_ids(model, prompt, chat, system)
    check_length(model, len(ids), max_new_tokens)
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    if engine == "numpy" and strategy in ("beam", "contrastive"):
        raise ValueError(f"engine='numpy' runs greedy and sampling strategies, not {strategy!r}")
    if strategy == "beam" and not use_cache:
        raise ValueError("beam search always uses the KV cache here; use_cache=False is for the other strategies")
    eos = default_eos(model) if eos_token_id == "default" else eos_token_id
    stops = [stop] if isinstance(stop, str) else list(stop or [])
    return _Request(ids, strategy, p, max_new_tokens, seed, eos, stops, use_cache, engine)


def _token_ids(model: Any, r: _Request, text: _TextStream) -> Iterator[int]:
    p = r.params
    if r.strategy == "beam":
        check = (lambda new: text.check(new.tolist())) if r.stops else None
        yield from beam_tokens(model, r.ids, p["num_beams"], p["length_penalty"], p["early_stopping"],
                               r.max_new_tokens, r.eos, p["repetition_penalty"], check)
    elif r.strategy == "contrastive":
        yield from contrastive_tokens(model, r.ids, p["top_k"], p["penalty_alpha"], r.max_new_tokens, r.eos,
                                      p["repetition_penalty"], r.use_cache)
    else:
        sp = SamplingParams(**{k: p[k] for k in ("temperature", "top_k", "top_p", "min_p", "repetition_penalty")
                               if k in p})
        generator = None
        if r.strategy in SAMPLING:
            generator = torch.Generator()
            if r.seed is not None:
                generator.manual_seed(r.seed)
            else:
                generator.seed()
        yield from sample_tokens(model, r.ids, sp, r.max_new_tokens, r.eos, generator, r.use_cache, r.engine)


def _pieces(model: Any, r: _Request) -> Iterator[Piece]:
    text = _TextStream(model.tokenizer, r.stops, r.eos)
    result = Generation(prompt_ids=r.ids)
    for token in _token_ids(model, r, text):
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
    return result


# --8<-- [start:api]
def stream(model: Any, prompt: str | Sequence[int] | torch.Tensor, strategy: str = "greedy",
           max_new_tokens: int = 32, seed: int | None = None, *, stop: str | Sequence[str] | None = None,
           chat: bool = False, system: str | None = None, eos_token_id: int | None | str = "default",
           use_cache: bool = True, engine: str = "torch", **params: Any) -> Iterator[Piece]:
    """Yield ``Piece(id, text)`` as tokens are generated (beam search yields them all at the end).

    The pieces' texts join to the generated text. A final piece with id -1 may carry
    text held back while it could have been the start of a stop string.
    """
    request = _prepare(model, prompt, strategy, max_new_tokens, seed, stop, chat, system, eos_token_id, use_cache,
                       params, engine)
    return _pieces(model, request)


def generate(model: Any, prompt: str | Sequence[int] | torch.Tensor, strategy: str = "greedy",
             max_new_tokens: int = 32, seed: int | None = None, *, stop: str | Sequence[str] | None = None,
             chat: bool = False, system: str | None = None, eos_token_id: int | None | str = "default",
             use_cache: bool = True, engine: str = "torch", **params: Any) -> Generation:
    """Continue ``prompt`` (text, or token ids) with ``strategy``; see ``STRATEGIES`` for the parameters.

    Stops at the end-of-sequence token (the model's, unless ``eos_token_id`` is
    given; None never stops early), at any of the ``stop`` strings, or after
    ``max_new_tokens``. Sampling strategies with the same ``seed`` give the same text.
    ``engine="numpy"`` runs greedy and sampling decoding on :class:`~llmbook.inference.numpy_engine.NumpyLlama`,
    the same weights in NumPy (about twice as fast on a CPU).
    """
    request = _prepare(model, prompt, strategy, max_new_tokens, seed, stop, chat, system, eos_token_id, use_cache,
                       params, engine)
    run = _pieces(model, request)
    while True:
        try:
            next(run)
        except StopIteration as finished:
            return finished.value
# --8<-- [end:api]
