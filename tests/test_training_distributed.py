"""DDP and FSDP2 across two CPU processes (torchrun, gloo) give the weights of one process accumulating gradients."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch

from helpers import one_torch_thread
from llmbook.training.distributed import accumulated_steps

ROOT = Path(__file__).resolve().parent.parent


def test_ddp_and_fsdp2_equal_gradient_accumulation_bit_for_bit(tmp_path: Path) -> None:
    out, steps = tmp_path / "weights.pt", 3
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           "-m", "llmbook.training.distributed", "--steps", str(steps), "--out", str(out)]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs = torch.load(out)
    with one_torch_thread():
        reference = accumulated_steps(steps, world_size=2).state_dict()
        untrained = accumulated_steps(0, world_size=2).state_dict()
    for mode in ("ddp", "fsdp"):
        assert runs[mode].keys() == reference.keys()
        for name, w in reference.items():
            # a mean of two gradients is (g0 + g1) / 2 either way: halving is exact in binary floating point
            assert torch.equal(runs[mode][name], w), (mode, name)
    assert any(not torch.equal(reference[k], untrained[k]) for k in reference)  # training moved the weights
    # FSDP2 shards every weight by rows: each of the 2 ranks holds its own slice, together the whole
    shapes = runs["fsdp_shapes"]
    assert len(shapes) == 2 and shapes[0].keys() == reference.keys()
    for name, w in reference.items():
        (local0, full), (local1, _) = shapes[0][name], shapes[1][name]
        assert full == tuple(w.shape) and local0[1:] == local1[1:] == full[1:], name
        assert local0[0] + local1[0] == full[0] and local0[0] == -(-full[0] // 2), name


def test_distributed_entry_point_refuses_to_run_outside_torchrun() -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("RANK", None)
    proc = subprocess.run([sys.executable, "-m", "llmbook.training.distributed", "--out", "x.pt"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "run under torchrun" in proc.stderr



def test_init_distributed_picks_nccl_and_the_local_gpu_or_gloo_on_cpu(monkeypatch) -> None:
    import llmbook.training.distributed as d

    calls: list[tuple[str, object]] = []
    monkeypatch.setattr(d.dist, "init_process_group", lambda backend: calls.append(("init", backend)))
    monkeypatch.setattr(d.torch.cuda, "set_device", lambda i: calls.append(("set_device", i)))
    monkeypatch.setenv("LOCAL_RANK", "3")
    monkeypatch.setattr(d.torch.cuda, "is_available", lambda: True)
    assert d.init_distributed() == torch.device("cuda", 3)
    assert calls == [("set_device", 3), ("init", "nccl")]  # the device first, so NCCL binds to it
    calls.clear()
    monkeypatch.setattr(d.torch.cuda, "is_available", lambda: False)
    assert d.init_distributed() == torch.device("cpu")
    assert calls == [("init", "gloo")]
