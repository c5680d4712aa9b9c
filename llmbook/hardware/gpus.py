"""Data-centre GPU generations as their makers publish them, every figure with its source.

A vendor's headline tensor throughput is often quoted *with 2:4 structured
sparsity*: two of every four weights are zero and the hardware skips them, which
doubles the number on the datasheet but not the work a dense matrix product gets
done. Each figure here is stored exactly as published, with ``sparse=True`` where the
page marks it so; ``dense`` halves those. B200's figures are published for an
8-GPU HGX/DGX system; ``per`` records that, and ``value`` is divided by it.

The year is the year the part was announced (an identifier, not a measured figure), and the
architecture the name its product page gives it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

V100_DATASHEET = "https://images.nvidia.com/content/technologies/volta/pdf/volta-v100-datasheet-update-us-1165301-r5.pdf"
A100_DATASHEET = ("https://www.nvidia.com/content/dam/en-zz/Solutions/Data-Center/a100/pdf/"
                  "nvidia-a100-datasheet-us-nvidia-1758950-r4-web.pdf")
H100_PAGE = "https://www.nvidia.com/en-us/data-center/h100/"
H200_PAGE = "https://www.nvidia.com/en-us/data-center/h200/"
HGX_PAGE = "https://www.nvidia.com/en-us/data-center/hgx/"
DGX_B200_PAGE = "https://www.nvidia.com/en-us/data-center/dgx-b200/"

# The figures a GPU may carry, and their units.
UNITS = {
    "bf16_tflops": "TFLOP/s",  # tensor-core BF16 (V100: FP16, it has no BF16)
    "fp8_tflops": "TFLOP/s",  # tensor-core FP8
    "fp32_tflops": "TFLOP/s",  # plain FP32 (not TF32)
    "hbm_gb": "GB",
    "hbm_tb_s": "TB/s",
    "nvlink_gb_s": "GB/s",  # per GPU, all links together
    "tdp_w": "W",
}


@dataclass(frozen=True)
class Figure:
    """One published number: ``published`` as printed at ``source``, for ``per`` GPUs, maybe with sparsity."""

    published: float
    source: str
    sparse: bool = False  # the page quotes it with 2:4 structured sparsity
    per: int = 1  # the page quotes it for this many GPUs together

    def __post_init__(self) -> None:
        if not self.published > 0:
            raise ValueError(f"a published figure must be positive, got {self.published!r}")
        if not self.source.startswith("https://"):
            raise ValueError(f"a figure needs an https:// source, got {self.source!r}")
        if self.per < 1:
            raise ValueError(f"per must be at least 1 GPU, got {self.per}")

    @property
    def value(self) -> float:
        """The figure for one GPU, as published (sparse if flagged)."""
        return self.published / self.per

    @property
    def dense(self) -> float:
        """The figure for one GPU without sparsity: half a sparse headline."""
        return self.value / 2 if self.sparse else self.value


@dataclass(frozen=True)
class GPU:
    """A data-centre GPU: name, year announced, its published figures (keys of ``UNITS``) and the
    architecture its maker names it after (two GPUs may share one: H100 and H200 are both Hopper)."""

    name: str
    year: int
    figures: dict[str, Figure] = field(default_factory=dict)
    note: str = ""
    architecture: str = ""

    def __post_init__(self) -> None:
        unknown = set(self.figures) - set(UNITS)
        if unknown:
            raise ValueError(f"{self.name}: unknown figure(s) {sorted(unknown)}; known: {sorted(UNITS)}")

    def dense(self, key: str) -> float | None:
        """Figure ``key`` for one GPU without sparsity, or None where none is published here."""
        if key not in UNITS:
            raise KeyError(f"no figure {key!r}; known: {sorted(UNITS)}")
        fig = self.figures.get(key)
        return None if fig is None else fig.dense

    def ridge_point(self, key: str = "bf16_tflops") -> float:
        """FLOPs per byte of HBM traffic at which dense ``key`` compute and memory bandwidth take equal time."""
        flops = self.dense(key)
        if flops is None:
            raise ValueError(f"{self.name} has no published {key}")
        return flops * 1e12 / (self.dense("hbm_tb_s") * 1e12)


# --8<-- [start:table]
def _f(published: float, source: str, sparse: bool = False, per: int = 1) -> Figure:
    return Figure(published, source, sparse, per)


GPUS: tuple[GPU, ...] = (
    GPU("V100 SXM2", 2017, {
        "bf16_tflops": _f(125, V100_DATASHEET), "fp32_tflops": _f(15.7, V100_DATASHEET),
        "hbm_gb": _f(32, V100_DATASHEET), "hbm_tb_s": _f(0.9, V100_DATASHEET),
        "nvlink_gb_s": _f(300, V100_DATASHEET), "tdp_w": _f(300, V100_DATASHEET),
    }, note="tensor cores do FP16 only (no BF16, no FP8); no sparsity support", architecture="Volta"),
    GPU("A100 SXM 80GB", 2020, {
        "bf16_tflops": _f(312, A100_DATASHEET), "fp32_tflops": _f(19.5, A100_DATASHEET),
        "hbm_gb": _f(80, A100_DATASHEET), "hbm_tb_s": _f(2.039, A100_DATASHEET),
        "nvlink_gb_s": _f(600, A100_DATASHEET), "tdp_w": _f(400, A100_DATASHEET),
    }, note="the datasheet gives dense and sparse side by side (312 | 624*); no FP8", architecture="Ampere"),
    GPU("H100 SXM", 2022, {
        "bf16_tflops": _f(1979, H100_PAGE, sparse=True), "fp8_tflops": _f(3958, H100_PAGE, sparse=True),
        "fp32_tflops": _f(67, H100_PAGE), "hbm_gb": _f(80, H100_PAGE), "hbm_tb_s": _f(3.35, H100_PAGE),
        "nvlink_gb_s": _f(900, H100_PAGE), "tdp_w": _f(700, H100_PAGE),
    }, architecture="Hopper"),
    GPU("H200 SXM", 2023, {
        "bf16_tflops": _f(1979, H200_PAGE, sparse=True), "fp8_tflops": _f(3958, H200_PAGE, sparse=True),
        "fp32_tflops": _f(67, H200_PAGE), "hbm_gb": _f(141, H200_PAGE), "hbm_tb_s": _f(4.8, H200_PAGE),
        "nvlink_gb_s": _f(900, H200_PAGE), "tdp_w": _f(700, H200_PAGE),
    }, note="the H100's compute with more and faster memory", architecture="Hopper"),
    GPU("B200 (HGX)", 2024, {
        "bf16_tflops": _f(36_000, HGX_PAGE, sparse=True, per=8),
        "fp8_tflops": _f(72_000, HGX_PAGE, sparse=True, per=8),
        "fp32_tflops": _f(600, HGX_PAGE, per=8),
        "hbm_gb": _f(1440, DGX_B200_PAGE, per=8), "hbm_tb_s": _f(64, DGX_B200_PAGE, per=8),
        "nvlink_gb_s": _f(1800, HGX_PAGE),
    }, note="published for 8-GPU HGX B200 / DGX B200 systems; no per-GPU TDP on these pages", architecture="Blackwell"),
)
# --8<-- [end:table]


def gpu(name: str) -> GPU:
    """The GPU whose name starts with ``name`` (case-insensitive), e.g. ``gpu("H100")``."""
    matches = [g for g in GPUS if g.name.lower().startswith(name.lower())]
    if len(matches) != 1:
        known = ", ".join(g.name for g in GPUS)
        raise KeyError(f"{name!r} matches {len(matches)} GPUs; known: {known}")
    return matches[0]
