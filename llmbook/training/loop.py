"""The training loop: ``train_step`` (forward, loss, backward, clip, step) and ``fit``, which runs it
with a learning-rate schedule, evaluating, sampling and checkpointing on the way.

Every piece is the book's own: the objective (``objective``), AdamW (``optimizer``),
the schedule (``schedule``), clipping (``clip``), checkpoints (``checkpoint``) and the
batches (``data``). A tqdm bar shows the loss, tokens per second and the time left.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm import tqdm  # plain text bar: tqdm.auto wants ipywidgets inside notebooks

from llmbook.inference.sampling import apply_temperature, sample
from llmbook.training.checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from llmbook.training.clip import clip_by_global_norm
from llmbook.training.data import RandomWindows
from llmbook.training.objective import cross_entropy_loss, next_token_targets
from llmbook.training.optimizer import AdamW
from llmbook.training.schedule import warmup_cosine

LossFn = Callable[[nn.Module, torch.Tensor], torch.Tensor]  # (model, batch (B, T+1)) -> scalar loss


# --8<-- [start:config]
@dataclass(frozen=True)
class TrainConfig:
    """How long and how fast to train; defaults are nanoGPT's CPU recipe, scaled to the book's text."""

    steps: int = 2000
    max_lr: float = 1e-3
    min_lr: float = 1e-4
    warmup: int = 100
    weight_decay: float = 0.1
    betas: tuple[float, float] = (0.9, 0.99)
    grad_clip: float = 1.0
    eval_every: int = 250  # steps between evaluations (and samples), from step 0; 0: none
    checkpoint_every: int = 0  # steps between checkpoints; 0: none

    def __post_init__(self) -> None:
        for name in ("steps", "warmup", "eval_every", "checkpoint_every"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.warmup > self.steps:
            raise ValueError(f"warmup ({self.warmup}) must not exceed steps ({self.steps})")
# --8<-- [end:config]


# --8<-- [start:causal-loss]
def causal_lm_loss(model: nn.Module, batch: torch.Tensor) -> torch.Tensor:
    """Next-token cross-entropy of ``model`` on a batch of windows (B, T+1)."""
    inputs, targets = next_token_targets(batch)  # (B, T), (B, T)
    return cross_entropy_loss(model(inputs), targets)  # logits (B, T, V)
# --8<-- [end:causal-loss]


@torch.no_grad()
def evaluate(model: nn.Module, batches: list[torch.Tensor], loss_fn: LossFn = causal_lm_loss) -> float:
    """Mean loss over fixed batches, in eval mode (no gradients)."""
    was_training = model.training
    model.eval()
    loss = sum(loss_fn(model, b).item() for b in batches) / len(batches)
    model.train(was_training)
    return loss


@torch.no_grad()
def continue_ids(model: nn.Module, ids: list[int], n: int, context: int, temperature: float = 0.8,
                 seed: int = 0) -> list[int]:
    """Sample ``n`` more tokens, each from the last ``context`` tokens (a sliding window, no cache)."""
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if not ids:
        raise ValueError("ids is empty: sampling needs at least one token to continue")
    generator = torch.Generator().manual_seed(seed)
    out = list(ids)
    for _ in range(n):
        logits = model(torch.tensor([out[-context:]]))[0, -1]  # (V,) scores of the next token
        out.append(sample(apply_temperature(logits, temperature), generator))
    return out[len(ids):]


# --8<-- [start:step]
def train_step(model: nn.Module, batch: torch.Tensor, optimizer: torch.optim.Optimizer, grad_clip: float,
               loss_fn: LossFn = causal_lm_loss, autocast: torch.dtype | None = None) -> tuple[float, float]:
    """One step on ``batch`` (B, T+1): forward, loss, backward, clip, step; returns the loss and the gradient norm."""
    with autocast_to(next(model.parameters()).device.type, autocast):
        loss = loss_fn(model, batch)  # forward, in 16 bits where autocast allows
    optimizer.zero_grad(set_to_none=True)
    loss.backward()  # every parameter's .grad = dloss/dparameter
    norm = clip_by_global_norm(model.parameters(), grad_clip)
    optimizer.step()  # the weights move
    return loss.item(), norm
# --8<-- [end:step]


def check_autocast(dtype: torch.dtype | None) -> None:
    """Raise ValueError unless ``dtype`` is None (float32), ``torch.bfloat16`` or ``torch.float16``."""
    if dtype not in (None, torch.bfloat16, torch.float16):
        raise ValueError(f"autocast must be None, torch.bfloat16 or torch.float16, got {dtype!r}")


def autocast_to(device: str, dtype: torch.dtype | None) -> contextlib.AbstractContextManager[Any]:
    """``torch.autocast`` to ``dtype`` on ``device``; None: a context that changes nothing (float32)."""
    check_autocast(dtype)
    return torch.autocast(device, dtype=dtype) if dtype else contextlib.nullcontext()


def _save(path: str | Path, model: nn.Module, opt: AdamW, train: RandomWindows, step: int,
          history: dict[str, Any]) -> None:
    save_checkpoint(path, {"model": model.state_dict(), "optimizer": opt.state_dict(), "data": train.state_dict(),
                           "rng": rng_state(), "step": step, "history": history})


def _resume(path: str | Path, model: nn.Module, opt: AdamW, train: RandomWindows) -> tuple[int, dict[str, Any]]:
    """Load what ``_save`` wrote into the model, optimizer, batches and generators; return the step and history."""
    state = load_checkpoint(path)
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["optimizer"])
    train.load_state_dict(state["data"])
    set_rng_state(state["rng"])
    return state["step"], state["history"]


# --8<-- [start:loop]
def fit(model: nn.Module, train: RandomWindows, val: list[torch.Tensor], config: TrainConfig,
        loss_fn: LossFn = causal_lm_loss, checkpoint: str | Path | None = None, stop_at: int | None = None,
        on_eval: Callable[[int, dict[str, Any]], None] | None = None, progress: bool = True,
        autocast: torch.dtype | None = None) -> dict[str, Any]:
    """Train ``model`` for ``config.steps`` steps of ``train_step``; return the history of losses.

    With ``checkpoint``, the state is saved there every ``config.checkpoint_every`` steps,
    and a run finding a checkpoint there resumes from it. ``stop_at`` ends the run early
    (after that many steps in all), as an interrupt would. ``autocast`` (``torch.bfloat16``
    or ``torch.float16``) runs the forward pass in that type; the weights, gradients and
    AdamW's state stay float32.
    """
    c = config
    check_autocast(autocast)  # before any work
    if c.eval_every and not val:
        raise ValueError("val is empty: give held-out batches to evaluate on, or set eval_every=0")
    opt = AdamW(model.parameters(), lr=c.max_lr, betas=c.betas, weight_decay=c.weight_decay)
    history: dict[str, Any] = {"config": asdict(c), "tokens_per_step": train.batch_size * train.context,
                               "train": [], "val": []}
    step = 0
    if checkpoint is not None and Path(checkpoint).is_file():  # resume where the last run stopped
        step, history = _resume(checkpoint, model, opt, train)

    def log_eval() -> None:  # the held-out loss now, then the caller's hook (e.g. sample some text)
        record = {"step": step, "loss": evaluate(model, val, loss_fn)}
        history["val"].append(record)
        if on_eval is not None:
            on_eval(step, record)  # may add to the record

    end = c.steps if stop_at is None else min(stop_at, c.steps)
    model.train()
    bar = tqdm(total=c.steps, initial=step, disable=not progress, unit="step", dynamic_ncols=True)
    t0, first = time.perf_counter(), step
    while step < end:
        if c.eval_every and step % c.eval_every == 0:
            log_eval()
        lr = warmup_cosine(step, c.max_lr, c.warmup, c.steps, c.min_lr)
        for group in opt.param_groups:
            group["lr"] = lr
        loss, norm = train_step(model, train.next(), opt, c.grad_clip, loss_fn, autocast)
        step += 1
        history["train"].append({"step": step, "loss": loss, "lr": lr, "grad_norm": norm})
        bar.update(1)
        tokens = (step - first) * history["tokens_per_step"]
        bar.set_postfix(loss=f"{loss:.3f}", tok_s=f"{tokens / (time.perf_counter() - t0):,.0f}")
        if checkpoint is not None and c.checkpoint_every and step % c.checkpoint_every == 0:
            _save(checkpoint, model, opt, train, step, history)
    bar.close()
    if step == c.steps and c.eval_every:  # the last evaluation, after the last step
        log_eval()
    return history
# --8<-- [end:loop]
