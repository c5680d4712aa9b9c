"""Decoding strategies' parameters: one frozen dataclass per strategy, each checking itself.

``strategy_params("top-p", top_p=0.9)`` builds the parameters of a strategy by name;
a wrong name, a parameter the strategy does not have, or a value of the wrong type
or outside its range is a ``ValueError`` that names the parameter, the value and
what is allowed, raised when the object is made, before any token is generated.
Limits that depend on the model (``num_beams``, contrastive ``top_k``) are checked
by ``check_model`` as soon as the model is known.

Each field carries its help text in ``metadata["help"]``: the command line builds
its options from these fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from llmbook.checks import Check, integer, number, one_of, optional

def param(default: Any, check: Check, help: str) -> Any:
    """A strategy parameter: its default, its check, and a line of help (shown by the command line)."""
    return field(default=default, metadata={"check": check, "help": help})


PENALTY = "make tokens already in the text less likely: positive logits / P, negative * P (> 0; 1 or None = off)"


class _Checked:
    """Runs every field's check when the dataclass is made."""

    def __post_init__(self) -> None:
        for f in fields(self):  # type: ignore[arg-type]
            f.metadata["check"](f.name, getattr(self, f.name))

    def check_model(self, vocab_size: int) -> None:
        """Limits that depend on the model (none for most strategies)."""


# --8<-- [start:params]
@dataclass(frozen=True)
class GreedyParams(_Checked):
    """Greedy decoding: the most likely token every time."""

    repetition_penalty: float | None = param(None, optional(number(0, low_open=True)), PENALTY)


@dataclass(frozen=True)
class SamplingParams(_Checked):
    """Sampling: draw from softmax(logits / tau) after the filters that are on (None = off)."""

    temperature: float = param(1.0, number(0, low_open=True), "divide the logits by T > 0 (below 1 sharpens)")
    top_k: int | None = param(None, optional(integer(1)), "keep the K most likely tokens (K >= 1)")
    top_p: float | None = param(None, optional(number(0, 1, low_open=True)),
                                "keep the most likely tokens until their probability adds up to P, 0 < P <= 1")
    min_p: float | None = param(None, optional(number(0, 1)),
                                "keep tokens at least P times as likely as the top one, 0 <= P <= 1")
    repetition_penalty: float | None = param(None, optional(number(0, low_open=True)), PENALTY)


@dataclass(frozen=True)
class BeamParams(_Checked):
    """Beam search: keep the ``num_beams`` most likely sequences (as ``transformers`` runs it)."""

    num_beams: int = param(4, integer(1), "number of sequences kept (1 <= num_beams <= half the vocabulary)")
    length_penalty: float = param(1.0, number(),
                                  "finished sequences score logprob / length^L (L > 0 favours longer ones)")
    early_stopping: bool | str = param(False, one_of(True, False, "never"),
                                       "stop when num_beams sequences are finished (true), when no running one "
                                       "can beat them (false), or only at the length limit (never)")
    repetition_penalty: float | None = param(None, optional(number(0, low_open=True)), PENALTY)

    def check_model(self, vocab_size: int) -> None:
        why = f" (half the vocabulary of {vocab_size}: a step ranks 2 x num_beams candidates)"
        integer(1, vocab_size // 2, why)("num_beams", self.num_beams)


@dataclass(frozen=True)
class ContrastiveParams(_Checked):
    """Contrastive search (Su et al., 2022): a likely token whose hidden state is unlike the text so far."""

    penalty_alpha: float = param(0.6, number(0, 1), "weight of the degeneration penalty, 0 <= alpha <= 1 "
                                                    "(0 = greedy)")
    top_k: int = param(4, integer(1), "number of candidate tokens, each run as one row of a batch")
    repetition_penalty: float | None = param(None, optional(number(0, low_open=True)), PENALTY)

    def check_model(self, vocab_size: int) -> None:
        integer(1, vocab_size, " (the vocabulary size)")("top_k", self.top_k)
# --8<-- [end:params]


Params = GreedyParams | SamplingParams | BeamParams | ContrastiveParams

# strategy name -> its parameters' class and the defaults that make it that strategy
STRATEGIES: dict[str, tuple[type, dict[str, Any]]] = {
    "greedy": (GreedyParams, {}),
    "sample": (SamplingParams, {}),
    "top-k": (SamplingParams, {"top_k": 50}),
    "top-p": (SamplingParams, {"top_p": 0.9}),
    "min-p": (SamplingParams, {"min_p": 0.1}),
    "beam": (BeamParams, {}),
    "contrastive": (ContrastiveParams, {}),
}


def strategy_params(strategy: str, **params: Any) -> Params:
    """The parameters of ``strategy`` (a name in ``STRATEGIES``), checked; defaults fill what is not given."""
    if not isinstance(strategy, str) or strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; choose one of: {', '.join(STRATEGIES)}")
    cls, defaults = STRATEGIES[strategy]
    names = [f.name for f in fields(cls)]
    unknown = sorted(set(params) - set(names))
    if unknown:
        raise ValueError(f"{', '.join(unknown)} does not apply to strategy {strategy!r} "
                         f"(its parameters: {', '.join(names)})")
    return cls(**{**defaults, **params})


@dataclass
class Step:
    """What a strategy decides after reading the logits of the rows the loop ran.

    ``emit``: new tokens of the output, in order. ``tokens``: the next batch, one token
    per row (None: generation is over). ``rows``: which current row each next row
    continues (None: the same rows, in order).
    """

    emit: list[int] = field(default_factory=list)
    tokens: list[int] | None = None
    rows: list[int] | None = None


def check_seed(seed: Any) -> None:
    """A seed is None (fresh randomness) or an integer in [0, 2**64), what ``torch.Generator`` accepts."""
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**64):
        raise ValueError(f"seed must be an integer in [0, 2**64), got {seed!r}")
