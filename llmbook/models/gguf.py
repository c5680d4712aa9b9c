"""Read GGUF, the single-file format llama.cpp and its ecosystem use for model weights.

Written from the format specification (ggml's ``docs/gguf.md``), versions 2 and 3,
little-endian. A file is laid out as:

1. header: magic ``b"GGUF"``, ``uint32`` version, ``uint64`` tensor count,
   ``uint64`` metadata count;
2. metadata: key/value pairs; a key is a string (``uint64`` length + UTF-8 bytes),
   a value is a ``uint32`` type tag followed by the value (arrays carry an element
   type and a ``uint64`` length);
3. tensor infos: name, ``uint32`` number of dimensions, ``uint64`` dimensions
   (fastest-varying first, the reverse of NumPy's order), ``uint32`` element type,
   ``uint64`` offset into the data section;
4. padding to ``general.alignment`` (default 32), then the data section.

``read_gguf(path)`` parses 1-3 and maps the file into memory; ``GGUFFile.tensor(name)``
dequantises one tensor to float32 (see ``llmbook.models.quant``).

A model file is untrusted input: every count and size in it is a claim, checked against
the bytes the file actually has before anything is allocated or looped over (see
``_Reader.count``), and nesting and dimensions are bounded as in GGML.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from llmbook.models.quant import BLOCK_LAYOUT, SUPPORTED, GGMLType, dequantize

MAGIC = b"GGUF"
SUPPORTED_VERSIONS = (2, 3)
DEFAULT_ALIGNMENT = 32
MAX_DIMS = 4  # GGML_MAX_DIMS: a tensor has at most 4 dimensions
MAX_ELEMENTS = 2**63 - 1  # GGML counts elements in an int64
MAX_ARRAY_DEPTH = 8  # arrays of arrays: real files use depth 1; a bound keeps the parser's stack small


class GGUFError(ValueError):
    """A GGUF file is malformed or uses something this reader does not support."""


# metadata value type tag -> struct format of one value (8: string, 9: array are special)
SCALAR_FORMATS: dict[int, str] = {
    0: "B",  # uint8
    1: "b",  # int8
    2: "H",  # uint16
    3: "h",  # int16
    4: "I",  # uint32
    5: "i",  # int32
    6: "f",  # float32
    7: "?",  # bool
    10: "Q",  # uint64
    11: "q",  # int64
    12: "d",  # float64
}
STRING, ARRAY = 8, 9


@dataclass(frozen=True)
class TensorInfo:
    """Where one tensor lives in the file and how to read it."""

    name: str
    shape: tuple[int, ...]  # NumPy order: slowest axis first, e.g. (out_features, in_features)
    type: GGMLType
    offset: int  # absolute byte offset in the file
    n_bytes: int

    @property
    def n_elements(self) -> int:
        return math.prod(self.shape)


@dataclass
class GGUFFile:
    """A parsed GGUF file: its metadata, its tensor table and the memory-mapped bytes."""

    path: Path
    version: int
    metadata: dict[str, Any]
    tensors: dict[str, TensorInfo]
    alignment: int
    data_offset: int
    _data: np.ndarray = field(repr=False)

    def raw(self, name: str) -> np.ndarray:
        """The stored bytes of tensor ``name`` (uint8, a view into the mapped file)."""
        info = self.info(name)
        return self._data[info.offset : info.offset + info.n_bytes]

    def tensor(self, name: str) -> np.ndarray:
        """Tensor ``name`` dequantised to a float32 array in NumPy order."""
        info = self.info(name)
        return dequantize(self.raw(name), info.type, info.shape)

    def info(self, name: str) -> TensorInfo:
        try:
            return self.tensors[name]
        except KeyError:
            raise KeyError(f"{self.path.name}: no tensor named {name!r}") from None


class _Reader:
    """A cursor over the file's bytes that raises GGUFError instead of reading past the end."""

    def __init__(self, buf: memoryview, path: Path) -> None:
        self.buf, self.path, self.pos = buf, path, 0

    def fail(self, what: str) -> GGUFError:
        return GGUFError(f"{self.path}: {what}")

    def take(self, n: int, what: str) -> memoryview:
        if n < 0 or self.pos + n > len(self.buf):
            raise self.fail(
                f"truncated: {what} needs {n} bytes at offset {self.pos}, but the file has {len(self.buf)} bytes"
            )
        out = self.buf[self.pos : self.pos + n]
        self.pos += n
        return out

    def count(self, n: int, min_size: int, what: str) -> int:
        """A count of ``n`` items, each at least ``min_size`` bytes, checked against the bytes left."""
        left = len(self.buf) - self.pos
        if n * min_size > left:
            raise self.fail(
                f"{what} is {n}, but {n} items of at least {min_size} bytes do not fit in the "
                f"{left} bytes left at offset {self.pos}"
            )
        return n

    def scalar(self, fmt: str, what: str) -> Any:
        size = struct.calcsize("<" + fmt)
        return struct.unpack("<" + fmt, self.take(size, what))[0]

    def string(self, what: str) -> str:
        n = self.scalar("Q", f"length of {what}")
        raw = bytes(self.take(n, what))
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise self.fail(f"{what} is not valid UTF-8 ({e})") from None

    def value(self, vtype: int, what: str, depth: int = 0) -> Any:
        """One metadata value of type tag ``vtype``; arrays become Python lists."""
        if vtype in SCALAR_FORMATS:
            return self.scalar(SCALAR_FORMATS[vtype], what)
        if vtype == STRING:
            return self.string(what)
        if vtype == ARRAY:
            if depth == MAX_ARRAY_DEPTH:
                raise self.fail(f"{what} nests arrays more than {MAX_ARRAY_DEPTH} deep")
            etype = self.scalar("I", f"element type of {what}")
            n = self.scalar("Q", f"length of {what}")
            if etype in SCALAR_FORMATS:  # numbers: one bulk read
                fmt = SCALAR_FORMATS[etype]
                raw = self.take(n * struct.calcsize(fmt), f"{n} elements of {what}")
                return np.frombuffer(raw, dtype=np.dtype("<" + fmt)).tolist()
            if etype not in (STRING, ARRAY):
                raise self.fail(f"unknown element type {etype} in array {what}")
            self.count(n, 8 if etype == STRING else 12, f"length of {what}")  # a length, or a type + length
            return [self.value(etype, f"{what}[{i}]", depth + 1) for i in range(n)]
        raise self.fail(f"unknown metadata value type {vtype} for {what}")


def read_gguf(path: str | Path) -> GGUFFile:
    """Parse the GGUF file at ``path``; raises GGUFError if it is malformed or unsupported."""
    path = Path(path)
    data = np.memmap(path, dtype=np.uint8, mode="r") if path.stat().st_size else np.zeros(0, np.uint8)
    r = _Reader(memoryview(data), path)

    magic = bytes(r.take(4, "magic"))
    if magic != MAGIC:
        raise r.fail(f"not a GGUF file: magic is {magic!r}, expected {MAGIC!r}")
    version = r.scalar("I", "version")
    if version not in SUPPORTED_VERSIONS:
        hint = " (a big-endian file?)" if version >= 1 << 16 else ""
        raise r.fail(f"unsupported GGUF version {version}{hint}; this reader handles {SUPPORTED_VERSIONS}")
    n_tensors = r.scalar("Q", "tensor count")
    n_kv = r.count(r.scalar("Q", "metadata count"), 8 + 4 + 1, "metadata count")  # key length, type, value

    metadata: dict[str, Any] = {}
    for i in range(n_kv):
        key = r.string(f"metadata key #{i}")
        if key in metadata:
            raise r.fail(f"metadata key {key!r} appears twice")
        metadata[key] = r.value(r.scalar("I", f"type of {key!r}"), repr(key))

    alignment = metadata.get("general.alignment", DEFAULT_ALIGNMENT)
    if type(alignment) is not int or alignment <= 0 or alignment & (alignment - 1):
        raise r.fail(f"general.alignment must be a positive power of two, got {alignment!r}")

    r.count(n_tensors, 8 + 4 + 4 + 8, "tensor count")  # name length, dimension count, type, offset
    infos = []
    for i in range(n_tensors):
        name = r.string(f"name of tensor #{i}")
        n_dims = r.scalar("I", f"dimension count of {name!r}")
        if n_dims > MAX_DIMS:
            raise r.fail(f"tensor {name!r} has {n_dims} dimensions; GGML allows at most {MAX_DIMS}")
        dims = [r.scalar("Q", f"dimension {d} of {name!r}") for d in range(n_dims)]
        type_id = r.scalar("I", f"type of {name!r}")
        offset = r.scalar("Q", f"offset of {name!r}")
        infos.append((name, dims, type_id, offset))

    data_offset = -(-r.pos // alignment) * alignment  # round up to the alignment
    tensors: dict[str, TensorInfo] = {}
    for name, dims, type_id, offset in infos:
        if type_id not in SUPPORTED:
            known = GGMLType(type_id).name if type_id in GGMLType._value2member_map_ else f"#{type_id}"
            raise r.fail(
                f"tensor {name!r} has type {known}, which this reader cannot dequantise "
                f"(supported: {', '.join(t.name for t in sorted(SUPPORTED))})"
            )
        qtype = GGMLType(type_id)
        block_values, block_bytes = BLOCK_LAYOUT[qtype]
        if dims and dims[0] % block_values:
            raise r.fail(f"tensor {name!r}: row length {dims[0]} is not a multiple of {qtype.name}'s block of {block_values}")
        if offset % alignment:
            raise r.fail(f"tensor {name!r}: offset {offset} is not a multiple of the alignment {alignment}")
        n_elements = math.prod(dims)  # a Python int: it cannot overflow, so the size check below holds
        if n_elements > MAX_ELEMENTS:
            raise r.fail(f"tensor {name!r}: dimensions {dims} make {n_elements} elements, more than GGML's int64 count")
        n_bytes = n_elements // block_values * block_bytes
        start = data_offset + offset
        if start + n_bytes > len(data):
            raise r.fail(
                f"tensor {name!r} ({qtype.name}, {n_bytes} bytes at data offset {offset}) runs past the end "
                f"of the file: it ends at byte {start + n_bytes}, the file has {len(data)} bytes"
            )
        if name in tensors:
            raise r.fail(f"tensor {name!r} appears twice")
        tensors[name] = TensorInfo(name, tuple(reversed(dims)), qtype, start, n_bytes)

    return GGUFFile(path, version, metadata, tensors, alignment, data_offset, data)
