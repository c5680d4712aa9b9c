"""A CPU and a GPU racing through one matrix product, at the ratio of their FLOP rates.

Each output cell of an (S, K) @ (K, S) product is a dot product of length K: K
multiply-adds, 2·K FLOPs. A processor doing ``flops`` FLOP/s completes
``flops / (2·K)`` cells a second. The animation's *tick* is the time the CPU takes
to complete ``cpu_cells`` cells; in that time the GPU completes ``ratio`` times as
many, where ``ratio`` is the GPU's FLOP/s over the CPU's. The grid holds only S·S
cells, so what the GPU fills in one tick is capped at S·S (``capped`` says when).
"""

from __future__ import annotations

from dataclasses import dataclass

from llmbook.checks import count, positive


# --8<-- [start:race]
@dataclass(frozen=True)
class Race:
    """Per-tick progress of a CPU and a GPU on one (side × side) grid of output cells."""

    ratio: float  # GPU FLOP/s ÷ CPU FLOP/s
    side: int  # the grid is side × side output cells
    inner: int  # multiply-adds per cell (the product's shared dimension K)
    cpu_cells: int  # cells the CPU completes per tick
    gpu_cells_exact: float  # cells the GPU completes in the same time: cpu_cells × ratio
    gpu_cells: int  # what the animation fills per tick: gpu_cells_exact rounded, at most side²
    tick_s: float  # seconds one tick stands for: the CPU's time for cpu_cells cells

    @property
    def cells(self) -> int:
        return self.side * self.side

    @property
    def capped(self) -> bool:
        """True when the GPU would complete more cells in a tick than the grid holds."""
        return self.gpu_cells_exact > self.cells


def race(cpu_flops: float, gpu_flops: float, side: int = 32, inner: int = 4096, cpu_cells: int = 1) -> Race:
    """The rates at which a CPU and a GPU fill a (side × side) product whose cells each take ``inner`` multiply-adds."""
    for name, v in (("cpu_flops", cpu_flops), ("gpu_flops", gpu_flops)):
        positive(name, v)  # FLOP/s
    for name, v in (("side", side), ("inner", inner), ("cpu_cells", cpu_cells)):
        count(name, v)
    if cpu_cells > side * side:
        raise ValueError(f"cpu_cells must be at most side² = {side * side}, got {cpu_cells}")
    ratio = gpu_flops / cpu_flops
    exact = cpu_cells * ratio
    if exact < 0.5:
        raise ValueError(f"the GPU would fill {exact:.2f} cells per tick (ratio {ratio:.3g}); raise cpu_cells")
    gpu_cells = min(side * side, round(exact))
    tick_s = cpu_cells * 2 * inner / cpu_flops
    return Race(ratio, side, inner, cpu_cells, exact, gpu_cells, tick_s)
# --8<-- [end:race]
