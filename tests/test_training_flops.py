"""FLOPs of a training step and MFU (llmbook.training.flops), and examples/bench_train_step.py's CPU path."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch

import tools.bench as bench
import tools.export as export
from llmbook.hardware.roofline import llama_ops
from llmbook.models.config import LlamaConfig
from llmbook.training.flops import matmul_params, model_flops_utilisation, training_flops_per_token
from llmbook.training.tiny_llama import tiny_llama

ROOT = Path(__file__).resolve().parent.parent


def _config(**kw) -> LlamaConfig:
    base = dict(vocab_size=10, n_layers=1, n_heads=2, n_kv_heads=2, dim=4, ffn_dim=8, context_length=16,
                rope_base=10000.0, norm_eps=1e-5, tied_embeddings=True)
    return LlamaConfig(**{**base, **kw})


def test_flops_by_hand() -> None:
    # one block, C=4, 2 heads, SwiGLU 8 wide, 10 tokens in the vocabulary:
    # q, k, v, o: 4 x 4 each = 64; gate, up, down: 4 x 8 each = 96; output layer 10 x 4 = 40 -> N = 200
    c = _config()
    assert matmul_params(c) == 200
    # 6 N = 1200, attention 12 * L * C * T = 12 * 1 * 4 * 3 = 144
    assert training_flops_per_token(c, 3) == 1344
    # grouped-query attention: 1 key/value head of 2 dims, k and v are 4 x 2 each -> 16 + 8 + 8 + 16 = 48
    assert matmul_params(_config(n_kv_heads=1)) == 48 + 96 + 40
    # 1,000 tokens/s at 1,344 FLOPs each on a 1.344 MFLOP/s device uses all of it
    assert model_flops_utilisation(1000, 1344, 1.344e6) == 1.0
    assert model_flops_utilisation(250, 1344, 1.344e6) == 0.25


def test_matmul_params_are_the_model_less_its_norms() -> None:
    model = tiny_llama(103)
    c = model.config
    norms = (2 * c.n_layers + 1) * c.dim  # RMSNorm weights: two per block and the final one
    assert matmul_params(c) + norms == sum(p.numel() for p in model.parameters()) == 817_152


def test_three_forward_passes_of_the_roofline_count() -> None:
    """The hardware chapter counts one forward pass op by op; a training step is three of them (forward, and a
    backward pass twice as costly), the same per token as 6 N + 12 L C T."""
    from llmbook.models.gguf import read_gguf
    from llmbook.models.registry import model_path

    smol = LlamaConfig.from_gguf(read_gguf(model_path("smollm2-135m-instruct")))
    for config, t in ((smol, 2048), (smol, 1), (_config(n_kv_heads=1), 3)):
        forward = sum(op.flops for op in llama_ops(config, t))
        assert training_flops_per_token(config, t) == pytest.approx(3 * forward / t, rel=1e-12)
    # 30 x (576 x (576 + 2 x 192) + 576^2 + 3 x 576 x 1536) + 49152 x 576: the file's 134,515,008 weights less
    # its 61 norms of 576, the tied embedding counted once
    assert matmul_params(smol) == 134_479_872 == 134_515_008 - 61 * 576


@pytest.mark.parametrize("call,message", [
    (lambda: training_flops_per_token(_config(), 0), "seq_len must be an integer >= 1, got 0"),
    (lambda: training_flops_per_token(_config(), 2.0), "seq_len must be an integer >= 1, got 2.0"),
    (lambda: model_flops_utilisation(-1, 10, 10), "tokens_per_s must be > 0, got -1"),
    (lambda: model_flops_utilisation(1, 0, 10), "flops_per_token must be > 0, got 0"),
    (lambda: model_flops_utilisation(1, 10, float("nan")), "peak_flops must be a finite number > 0, got nan"),
])
def test_bad_input_is_a_clear_error(call, message) -> None:
    with pytest.raises(ValueError, match=message):
        call()


# ---- examples/bench_train_step.py ---------------------------------------------------------

def _bench():
    path = ROOT / "examples" / "bench_train_step.py"
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("amp_dtype", [None, torch.bfloat16])  # bfloat16 autocast is what the GPU run uses
def test_a_step_trains_and_its_numbers_add_up(amp_dtype) -> None:
    b = _bench()
    model = tiny_llama(50, n_layers=1, dim=32, n_heads=2, context=16, ffn_dim=64)
    step = b.step_function(model, 4, 16, "cpu", amp_dtype)
    losses = [step().item() for _ in range(8)]
    # the same batch again and again: each AdamW step (lr 1e-4) lowers its loss by ~0.005, far above float32 noise
    assert all(b < a for a, b in zip(losses, losses[1:])) and losses[-1] < losses[0] - 0.02, losses
    row = b.measure("tiny", model, 4, 16, "cpu", amp_dtype, 2, 1e9, "a 1 GFLOP/s device")
    assert row["tokens_per_s"] == pytest.approx(4 * 16 / row["step_s_median"], rel=1e-12)
    assert row["flops_per_token"] == training_flops_per_token(model.config, 16)
    assert row["mfu"] == pytest.approx(row["tokens_per_s"] * row["flops_per_token"] / 1e9, rel=1e-12)
    assert row["precision"] == ("float32" if amp_dtype is None else "bfloat16 autocast")


def test_cpu_run_writes_the_chapter_text_and_no_record(tmp_path, monkeypatch) -> None:
    b = _bench()
    monkeypatch.setattr(export, "GENERATED", tmp_path / "generated")
    monkeypatch.setattr(bench, "RECORDS", tmp_path / "records")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(b, "CPU_STEPS", 1)
    old = torch.get_num_threads()
    assert b.main() == 0
    assert torch.get_num_threads() == old  # the one-thread measurement puts the thread count back
    text = (tmp_path / "generated" / "training" / "train_step.txt").read_text()
    assert "the tiny Llama (816,000 weights in matrix products, batches of 12 x 64 tokens, float32)" in text
    assert "No GPU record exists yet" in text
    assert not (tmp_path / "records").exists()


def test_the_newest_gpu_record_is_shown(tmp_path, monkeypatch) -> None:
    b = _bench()
    monkeypatch.setattr(bench, "RECORDS", tmp_path)
    cpu = {"matmul_params": 816_000, "batch": 12, "seq_len": 64, "precision": "float32", "tokens_per_s": 5000.0,
           "model_tflops": 0.0265, "mfu": 0.5, "peak": "this core's float32 matmul rate", "peak_tflops": 0.053}
    gpu = [{"model": "SmolLM2-135M", "batch": 8, "seq_len": 2048, "precision": "bfloat16 autocast",
            "tokens_per_s": 200_000.0, "model_tflops": 246.1, "mfu": 0.2487, "peak": "the H200 SXM's dense BF16 peak",
            "peak_tflops": 989.5}, {"model": "tiny Llama", "error": "RuntimeError: out of luck"}]
    for date, tps in (("2026-01-02", 1.0), ("2026-03-04", 200_000.0)):
        env = {"date": f"{date}T00:00:00Z", "device_name": "NVIDIA H200", "torch": "2.13.0", "cuda": "13.0"}
        rows = [dict(gpu[0], tokens_per_s=tps), gpu[1]]
        folder = tmp_path / "training" / "train_step"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{date}-nvidia-h200.json").write_text(json.dumps({"environment": env, "results": {"gpu": rows}}))
    text = b.markdown(cpu, {"device_name": "x86_64", "torch": "2.13.0"}, bench.latest_record(b.RECORD))
    assert "trains at 5,000 tokens/s, 26.50 GFLOP/s of model arithmetic: 50% of this core's" in text
    assert "Recorded on NVIDIA H200 on 2026-03-04 (torch 2.13.0, CUDA 13.0)" in text
    assert "| SmolLM2-135M | 8 x 2048 | bfloat16 autocast | 200,000 | 246.1 | 24.9% |" in text
    assert "| tiny Llama | failed: RuntimeError: out of luck |" in text
    assert "the H200 SXM's dense BF16 peak, 990 TFLOP/s" in text
    assert "No GPU record" not in text
