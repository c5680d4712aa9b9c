"""The training loop: batches, atomic checkpoints, bit-for-bit resume, and a loss that goes down."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from helpers import one_torch_thread
from llmbook.training import checkpoint as ckpt
from llmbook.training.data import CharTokenizer, RandomWindows, pydoc_topics_text, split_ids
from llmbook.training.loop import TrainConfig, continue_ids, evaluate, fit, train_step
from llmbook.training.objective import uniform_loss
from llmbook.training.tiny_llama import tiny_llama

TEXT = "the cat sat on the mat. the dog sat on the log. " * 40


@pytest.fixture(autouse=True)
def _one_thread():
    with one_torch_thread():
        yield


def _setup(seed: int = 0):
    tok = CharTokenizer(TEXT)
    ids = torch.tensor(tok.encode(TEXT))
    model = tiny_llama(tok.vocab_size, n_layers=1, dim=16, n_heads=2, context=8, ffn_dim=24, seed=seed)
    return tok, model, RandomWindows(ids, context=8, batch_size=4, seed=1), [RandomWindows(ids, 8, 4, 2).next()]


def test_char_tokenizer_and_text() -> None:
    tok = CharTokenizer("hello")
    assert tok.chars == ["e", "h", "l", "o"] and tok.encode("hole") == [1, 3, 2, 0]
    assert tok.decode(tok.encode("hello")) == "hello"
    with pytest.raises(ValueError, match=r"characters \['z'\] are not in the vocabulary"):
        tok.encode("zoo")
    text = pydoc_topics_text()
    assert len(text) > 400_000 and "assert" in text


def test_random_windows_are_consecutive_and_resumable() -> None:
    ids = torch.arange(100)
    a = RandomWindows(ids, context=5, batch_size=3, seed=0)
    batch = a.next()
    assert batch.shape == (3, 6) and bool((batch.diff(dim=1) == 1).all())  # consecutive ids
    state = a.state_dict()
    expected = [a.next() for _ in range(3)]
    b = RandomWindows(ids, context=5, batch_size=3, seed=99)
    b.load_state_dict(state)
    assert all(torch.equal(x, b.next()) for x in expected) and b.drawn == 4
    with pytest.raises(ValueError, match="too few"):
        RandomWindows(torch.arange(5), context=5, batch_size=1)
    train, val = split_ids(ids, 0.1)
    assert len(train) == 90 and int(val[0]) == 90


def test_checkpoint_write_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "run.pt"
    ckpt.save_checkpoint(path, {"step": 1, "w": torch.ones(3)})
    real_save = torch.save

    def interrupted_save(obj, f):  # write part of the file, then the user presses Ctrl-C
        real_save(obj, f)
        f.truncate(10)
        raise KeyboardInterrupt

    monkeypatch.setattr(ckpt.torch, "save", interrupted_save)
    with pytest.raises(KeyboardInterrupt):
        ckpt.save_checkpoint(path, {"step": 2, "w": torch.zeros(3)})
    monkeypatch.undo()
    state = ckpt.load_checkpoint(path)
    assert state["step"] == 1 and torch.equal(state["w"], torch.ones(3))  # the old file, whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.pt"]  # no temporary file left
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        ckpt.load_checkpoint(tmp_path / "missing.pt")


def test_resume_from_checkpoint_is_bit_for_bit(tmp_path: Path) -> None:
    config = TrainConfig(steps=12, warmup=2, eval_every=4, checkpoint_every=4, max_lr=1e-2, min_lr=1e-3)
    _, whole, train, val = _setup()
    h_whole = fit(whole, train, val, config, progress=False)

    path = tmp_path / "ckpt.pt"
    _, first, train, val = _setup()
    fit(first, train, val, config, checkpoint=path, stop_at=6, progress=False)  # "interrupted" after step 6
    assert ckpt.load_checkpoint(path)["step"] == 4  # the last checkpoint was written at step 4
    torch.manual_seed(1234)  # a different global RNG state: the checkpoint must restore it
    _, resumed, train, val = _setup(seed=7)  # different initial weights, overwritten from the checkpoint
    h_resumed = fit(resumed, train, val, config, checkpoint=path, progress=False)
    for (name, a), b in zip(whole.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name
    assert h_resumed["train"] == h_whole["train"] and h_resumed["val"] == h_whole["val"]


def test_a_short_run_learns_from_ln_v() -> None:
    tok, model, train, val = _setup()
    start = evaluate(model, val)
    assert abs(start - uniform_loss(tok.vocab_size)) < 0.1  # small logits at init: about uniform
    history = fit(model, train, val, TrainConfig(steps=60, warmup=5, eval_every=30, max_lr=1e-2), progress=False)
    assert [r["step"] for r in history["val"]] == [0, 30, 60]
    assert history["val"][0]["loss"] == start and history["val"][-1]["loss"] < start - 1.0
    assert len(history["train"]) == 60 and all(math.isfinite(r["loss"]) for r in history["train"])
    out = continue_ids(model, tok.encode("the "), 20, context=8)
    assert len(out) == 20 and all(0 <= i < tok.vocab_size for i in out)


def test_train_config_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="warmup"):
        TrainConfig(steps=10, warmup=20)
    with pytest.raises(ValueError, match="eval_every"):
        TrainConfig(eval_every=-1)
    _, model, train, _ = _setup()
    with pytest.raises(ValueError, match="val is empty"):
        fit(model, train, [], TrainConfig(steps=2, warmup=0, eval_every=1), progress=False)


def test_progress_bar_shows_loss_and_tokens_per_second(capsys: pytest.CaptureFixture[str]) -> None:
    _, model, train, val = _setup()
    fit(model, train, val, TrainConfig(steps=3, warmup=1, eval_every=0), progress=True)
    err = capsys.readouterr().err
    assert "3/3" in err and "loss=" in err and "tok_s=" in err and "<" in err  # [elapsed<time left]


def _by_hand(model: torch.nn.Module, train: RandomWindows, config: TrainConfig) -> None:
    """fit()'s float32 step written out from the book's pieces, as it was before autocast existed."""
    from llmbook.training.clip import clip_by_global_norm
    from llmbook.training.loop import causal_lm_loss
    from llmbook.training.optimizer import AdamW
    from llmbook.training.schedule import warmup_cosine

    c = config
    opt = AdamW(model.parameters(), lr=c.max_lr, betas=c.betas, weight_decay=c.weight_decay)
    model.train()
    for step in range(c.steps):
        for group in opt.param_groups:
            group["lr"] = warmup_cosine(step, c.max_lr, c.warmup, c.steps, c.min_lr)
        loss = causal_lm_loss(model, train.next())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        clip_by_global_norm(model.parameters(), c.grad_clip)
        opt.step()


def test_train_step_is_one_plain_step() -> None:
    """Catches a train_step that returns the loss after the update, skips clipping, or steps twice."""
    from llmbook.training.clip import clip_by_global_norm
    from llmbook.training.loop import causal_lm_loss
    from llmbook.training.optimizer import AdamW

    _, model, train, _ = _setup()
    _, twin, twin_train, _ = _setup()
    batch, twin_batch = train.next(), twin_train.next()
    opt = AdamW(model.parameters(), lr=1e-2)
    twin_opt = AdamW(twin.parameters(), lr=1e-2)
    loss, norm = train_step(model, batch, opt, grad_clip=0.5)
    twin_loss = causal_lm_loss(twin, twin_batch)
    twin_loss.backward()
    twin_norm = clip_by_global_norm(twin.parameters(), 0.5)
    twin_opt.step()
    assert loss == twin_loss.item() and norm == twin_norm and norm > 0.5  # the clip did act
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), twin.parameters()))
    before = [p.clone() for p in model.parameters()]
    with pytest.raises(ValueError, match="autocast must be None, torch.bfloat16 or torch.float16, got torch.int8"):
        train_step(model, batch, opt, grad_clip=0.5, autocast=torch.int8)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))  # refused before any work


def test_evaluations_at_every_eval_every_steps_and_after_the_last() -> None:
    """Catches the one evaluation helper firing twice at the end, skipping the end, or missing the hook."""
    _, model, train, val = _setup()
    hooked: list[tuple[int, float]] = []
    history = fit(model, train, val, TrainConfig(steps=30, warmup=3, eval_every=7, max_lr=1e-2), progress=False,
                  on_eval=lambda step, record: hooked.append((step, record["loss"])))
    assert [r["step"] for r in history["val"]] == [0, 7, 14, 21, 28, 30]
    assert hooked == [(r["step"], r["loss"]) for r in history["val"]]
    assert history["val"][-1]["loss"] == evaluate(model, val)  # the last one is of the final weights
    _, model, train, val = _setup()
    stopped = fit(model, train, val, TrainConfig(steps=30, warmup=3, eval_every=7, max_lr=1e-2), stop_at=10,
                  progress=False)
    assert [r["step"] for r in stopped["val"]] == [0, 7]  # an interrupted run does not evaluate where it stops


def test_float32_fit_is_the_plain_loop_bit_for_bit() -> None:
    config = TrainConfig(steps=8, warmup=2, eval_every=0, max_lr=1e-2)
    _, model, train, _ = _setup()
    fit(model, train, [], config, progress=False)  # autocast=None: the float32 path
    _, twin, twin_train, _ = _setup()
    _by_hand(twin, twin_train, config)
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), twin.parameters()))


def test_bf16_autocast_trains_and_keeps_float32_weights() -> None:
    tok, model, train, val = _setup()
    start = evaluate(model, val)
    history = fit(model, train, val, TrainConfig(steps=60, warmup=5, eval_every=60, max_lr=1e-2), progress=False,
                  autocast=torch.bfloat16)
    assert all(math.isfinite(r["loss"]) for r in history["train"])
    # bfloat16 rounds to 8 significant bits (~0.4 %), far finer than the 1-nat drop asked for
    assert history["val"][-1]["loss"] < start - 1.0
    assert all(p.dtype == torch.float32 for p in model.parameters())
    _, f32, f32_train, _ = _setup()
    fit(f32, f32_train, [], TrainConfig(steps=60, warmup=5, eval_every=0, max_lr=1e-2), progress=False)
    assert not all(torch.equal(a, b) for a, b in zip(model.parameters(), f32.parameters()))  # autocast did act
    with pytest.raises(ValueError, match="autocast must be None, torch.bfloat16 or torch.float16, got torch.int8"):
        fit(model, train, val, TrainConfig(steps=1, warmup=0, eval_every=0), progress=False, autocast=torch.int8)
