"""Data parallelism: every process holds the whole model, trains on its own slice of each batch,
and the gradients are averaged across processes before every optimizer step.

PyTorch's ``DistributedDataParallel`` (DDP) does the averaging (an all-reduce) during
the backward pass; ``fully_shard`` (FSDP2) also splits weights, gradients and optimizer
state across processes (ZeRO stage 3, see ``memory``). Either way the result is the
same as one process that accumulates the gradients of all the slices, each loss
divided by the number of processes. Run on a CPU with two processes:

    torchrun --standalone --nproc-per-node 2 -m llmbook.training.distributed --steps 5 --out weights.pt

On a machine with GPUs the same command with ``--nproc-per-node 8`` runs one process per GPU
and uses NCCL (``init_distributed``).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from llmbook.training.data import CharTokenizer, RandomWindows, pydoc_topics_text
from llmbook.training.loop import causal_lm_loss
from llmbook.training.optimizer import AdamW
from llmbook.training.tiny_llama import tiny_llama

CONTEXT, BATCH_PER_RANK, TEXT_CHARS = 32, 4, 50_000  # a small, quick setting: this checks equality, not quality


def _setup(seed: int, world_size: int) -> tuple[nn.Module, RandomWindows]:
    """The same tiny model and stream of global batches (BATCH_PER_RANK windows per process) in every process."""
    text = pydoc_topics_text()[:TEXT_CHARS]
    tok = CharTokenizer(text)
    model = tiny_llama(tok.vocab_size, n_layers=2, dim=32, n_heads=2, context=CONTEXT, ffn_dim=64, seed=seed)
    return model, RandomWindows(torch.tensor(tok.encode(text)), CONTEXT, BATCH_PER_RANK * world_size, seed=seed)


# --8<-- [start:accumulate]
def accumulated_steps(steps: int, world_size: int, seed: int = 0, lr: float = 1e-2) -> nn.Module:
    """One process doing what ``world_size`` DDP processes do: a backward per slice, loss / world_size."""
    model, batches = _setup(seed, world_size)
    opt = AdamW(model.parameters(), lr=lr)
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        for part in batches.next().chunk(world_size):  # rank r's slice of the global batch
            (causal_lm_loss(model, part) / world_size).backward()  # gradients add up in .grad
        opt.step()
    return model
# --8<-- [end:accumulate]


# --8<-- [start:backend]
def init_distributed() -> torch.device:
    """Join torchrun's process group: NCCL and this process's own GPU where there are GPUs, else gloo on the CPU."""
    if torch.cuda.is_available():
        local_rank = int(os.environ["LOCAL_RANK"])  # this process's index on its node: 0 .. nproc-per-node - 1
        torch.cuda.set_device(local_rank)  # one GPU per process
        dist.init_process_group("nccl")  # NVIDIA's collectives, over NVLink and InfiniBand
        return torch.device("cuda", local_rank)
    dist.init_process_group("gloo")  # the CPU backend
    return torch.device("cpu")
# --8<-- [end:backend]


# --8<-- [start:ddp]
def ddp_steps(steps: int, seed: int = 0, lr: float = 1e-2, fsdp: bool = False,
              device: torch.device = torch.device("cpu")) -> nn.Module:
    """Run inside torchrun: each rank trains on its slice of every batch; returns the trained model."""
    rank, world = dist.get_rank(), dist.get_world_size()
    model, batches = _setup(seed, world)
    model.to(device)
    if fsdp:
        from torch.distributed.device_mesh import init_device_mesh
        from torch.distributed.fsdp import fully_shard

        fully_shard(model, mesh=init_device_mesh(device.type, (world,)))  # each rank keeps 1/world of each tensor
        wrapped: nn.Module = model
    else:
        wrapped = nn.parallel.DistributedDataParallel(model)  # all-reduce (mean) of gradients in backward
    opt = AdamW(model.parameters(), lr=lr)
    for _ in range(steps):
        part = batches.next().chunk(world)[rank].to(device)  # every rank draws the same batch, keeps its slice
        opt.zero_grad(set_to_none=True)
        causal_lm_loss(wrapped, part).backward()
        opt.step()
    return model
# --8<-- [end:ddp]


def full_weights(model: nn.Module) -> dict[str, torch.Tensor]:
    """Every weight whole, on the CPU: an FSDP-sharded tensor is gathered from all ranks."""
    state = model.state_dict()
    return {k: (v.full_tensor() if hasattr(v, "full_tensor") else v).detach().cpu().clone() for k, v in state.items()}


def local_shapes(model: nn.Module) -> dict[str, tuple[tuple[int, ...], tuple[int, ...]]]:
    """For every weight, (the shape this rank holds, the whole shape): under FSDP a rank holds a slice of rows."""
    return {k: (tuple(v.to_local().shape) if hasattr(v, "to_local") else tuple(v.shape), tuple(v.shape))
            for k, v in model.state_dict().items()}


def main() -> None:
    parser = argparse.ArgumentParser(description="Train the tiny model with DDP, then FSDP2, across torchrun's processes")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--out", required=True, help="where rank 0 writes {'ddp': weights, 'fsdp': weights}")
    args = parser.parse_args()
    if "RANK" not in os.environ:
        parser.error("run under torchrun, e.g. torchrun --standalone --nproc-per-node 2 -m llmbook.training.distributed")
    if args.steps < 1:
        parser.error(f"--steps must be >= 1, got {args.steps}")
    torch.set_num_threads(1)
    device = init_distributed()
    try:
        sharded = ddp_steps(args.steps, fsdp=True, device=device)
        shapes: list[Any] = [None] * dist.get_world_size()
        dist.all_gather_object(shapes, local_shapes(sharded))  # what each rank holds
        weights = {"ddp": full_weights(ddp_steps(args.steps, device=device)), "fsdp": full_weights(sharded),
                   "fsdp_shapes": shapes}
        if dist.get_rank() == 0:
            torch.save(weights, args.out)
        dist.barrier()  # no rank tears the group down while another still talks to it
    finally:
        dist.destroy_process_group()
    # Leave without the interpreter's teardown: under load, gloo's worker threads were seen to be
    # destroyed mid-exit ("terminate called without an active exception"), after the work was done.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
