"""What the CPU running this process can do: its vector-instruction flags from ``/proc/cpuinfo``.

Matrix products run at the speed of the widest instructions the kernel library finds:
AVX2 does 8 float32 multiply-adds per instruction, AVX-512 16; ``avx512_bf16`` adds
dot products of bfloat16 pairs, ``avx512_vnni`` of int8 quadruples, and AMX
(``amx_tile``) whole tile products. Which ones a library *uses* is its own choice.
"""

from __future__ import annotations

from pathlib import Path

FEATURES = {
    "avx2": "256-bit vectors: 8 float32 per instruction",
    "fma": "fused multiply-add",
    "avx512f": "512-bit vectors: 16 float32 per instruction",
    "avx512_bf16": "bfloat16 pair dot products (VDPBF16PS)",
    "avx512_vnni": "int8 dot products into int32 (VPDPBUSD)",
    "avx512_fp16": "float16 arithmetic",
    "amx_tile": "AMX matrix tiles",
    "amx_bf16": "AMX bfloat16 tile products",
    "amx_int8": "AMX int8 tile products",
}


def cpu_flags(cpuinfo: str | Path = "/proc/cpuinfo") -> set[str]:
    """The ``flags`` of the first processor listed in ``cpuinfo`` (Linux); empty if there is no such file."""
    path = Path(cpuinfo)
    if not path.is_file():
        return set()
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("flags"):
            return set(line.partition(":")[2].split())
    return set()


def simd_features(flags: set[str] | None = None) -> dict[str, bool]:
    """For each feature the book talks about (``FEATURES``), whether ``flags`` (default: this CPU) has it."""
    flags = cpu_flags() if flags is None else flags
    return {name: name in flags for name in FEATURES}
