"""The GGUF reader: small files written here, every malformed case, and the real model file vs `gguf`."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from helpers import budget_sample
from llmbook.models.gguf import GGUFError, read_gguf
from llmbook.models.registry import model_path
from llmbook.models.quant import BLOCK_LAYOUT, GGMLType, dequantize


@pytest.fixture(scope="module")
def gguf() -> Any:
    """The `gguf` package, the reference reader (only the tests that compare with it need it)."""
    return pytest.importorskip("gguf")


# ---- a tiny GGUF writer, independent of the reader ---------------------------------------------

def _str(s: str) -> bytes:
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


_FMT = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}


def _value(vtype: int, v: Any) -> bytes:
    if vtype == 8:
        return _str(v)
    if vtype == 9:
        etype, items = v
        return struct.pack("<IQ", etype, len(items)) + b"".join(_value(etype, x) for x in items)
    return struct.pack("<" + _FMT[vtype], v)


def write_gguf(
    path: Path,
    metadata: list[tuple[str, int, Any]] = (),
    tensors: list[tuple[str, tuple[int, ...], int, bytes]] = (),  # name, NumPy shape, type, data
    *,
    magic: bytes = b"GGUF",
    version: int = 3,
    alignment: int = 32,
    offsets: list[int] | None = None,
    truncate_to: int | None = None,
) -> Path:
    out = bytearray(magic + struct.pack("<IQQ", version, len(tensors), len(metadata)))
    for key, vtype, v in metadata:
        out += _str(key) + struct.pack("<I", vtype) + _value(vtype, v)
    data = bytearray()
    auto_offsets = []
    for _, _, _, blob in tensors:
        data += b"\0" * (-len(data) % alignment)
        auto_offsets.append(len(data))
        data += blob
    for i, (name, shape, ttype, _) in enumerate(tensors):
        dims = list(reversed(shape))
        out += _str(name) + struct.pack("<I", len(dims)) + struct.pack(f"<{len(dims)}Q", *dims)
        out += struct.pack("<IQ", ttype, (offsets or auto_offsets)[i])
    out += b"\0" * (-len(out) % alignment) + data
    path.write_bytes(bytes(out[:truncate_to] if truncate_to is not None else out))
    return path


def _random_blocks(qtype: GGMLType, n_blocks: int, seed: int = 0) -> np.ndarray:
    """Random bytes for ``n_blocks`` blocks with finite float16 scales in the right places."""
    rng = np.random.default_rng(seed)
    _, nbytes = BLOCK_LAYOUT[qtype]
    blocks = rng.integers(0, 256, size=(n_blocks, nbytes), dtype=np.uint8)
    scales = {GGMLType.Q8_0: [0], GGMLType.Q4_0: [0], GGMLType.Q4_1: [0, 2], GGMLType.Q6_K: [208]}[qtype]
    for at in scales:
        f16 = rng.normal(size=n_blocks).astype(np.float16)
        blocks[:, at : at + 2] = f16.view(np.uint8).reshape(n_blocks, 2)
    return blocks


# ---- well-formed files -------------------------------------------------------------------------

def test_every_metadata_type_round_trips(tmp_path: Path) -> None:
    metadata = [
        ("u8", 0, 200), ("i8", 1, -5), ("u16", 2, 60000), ("i16", 3, -300),
        ("u32", 4, 4_000_000_000), ("i32", 5, -2_000_000_000), ("f32", 6, 1.5), ("bool", 7, True),
        ("str", 8, "héllo ✓"), ("u64", 10, 2**63 + 1), ("i64", 11, -(2**62)), ("f64", 12, 0.1),
        ("arr.i32", 9, (5, [1, -2, 3])), ("arr.str", 9, (8, ["a", "", "ü"])),
        ("arr.empty", 9, (6, [])), ("arr.nested", 9, (9, [(4, [1, 2]), (8, ["x"])])),
    ]
    f = read_gguf(write_gguf(tmp_path / "m.gguf", metadata))
    assert f.version == 3 and f.tensors == {} and f.alignment == 32
    assert f.metadata == {
        "u8": 200, "i8": -5, "u16": 60000, "i16": -300, "u32": 4_000_000_000, "i32": -2_000_000_000,
        "f32": 1.5, "bool": True, "str": "héllo ✓", "u64": 2**63 + 1, "i64": -(2**62), "f64": 0.1,
        "arr.i32": [1, -2, 3], "arr.str": ["a", "", "ü"], "arr.empty": [], "arr.nested": [[1, 2], ["x"]],
    }


@pytest.mark.parametrize("alignment", [32, 64])
@pytest.mark.parametrize("version", [2, 3])
def test_tensors_shapes_offsets_and_alignment(tmp_path: Path, alignment: int, version: int) -> None:
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = np.array([0.5, -2.0, 65504.0], dtype=np.float16)
    meta = [("general.alignment", 4, alignment)] if alignment != 32 else []
    path = write_gguf(
        tmp_path / "t.gguf", meta, [("a", (2, 3), 0, a.tobytes()), ("b", (3,), 1, b.tobytes())],
        version=version, alignment=alignment,
    )
    f = read_gguf(path)
    assert f.alignment == alignment and f.data_offset % alignment == 0
    assert f.tensors["a"].shape == (2, 3) and f.tensors["b"].type == GGMLType.F16
    np.testing.assert_array_equal(f.tensor("a"), a)
    np.testing.assert_array_equal(f.tensor("b"), b.astype(np.float32))
    assert f.tensor("b").dtype == np.float32


@pytest.mark.parametrize("qtype", [GGMLType.Q8_0, GGMLType.Q4_0, GGMLType.Q4_1, GGMLType.Q6_K])
def test_dequantize_matches_gguf_package(qtype: GGMLType, gguf: Any) -> None:
    values, _ = BLOCK_LAYOUT[qtype]
    blocks = _random_blocks(qtype, n_blocks=24)  # 24 blocks = a (4, 6 * values) tensor
    ours = dequantize(blocks.reshape(-1), qtype, (4, 6 * values))
    ref = gguf.quants.dequantize(blocks.reshape(4, -1), gguf.GGMLQuantizationType(int(qtype)))
    assert ours.dtype == np.float32
    np.testing.assert_array_equal(ours, ref)


def test_bf16_is_the_top_half_of_float32() -> None:
    x = np.array([1.0, -3.5, 1e-3, 3e38], dtype=np.float32)
    top = (x.view(np.uint32) >> 16).astype(np.uint16)
    np.testing.assert_array_equal(dequantize(top.view(np.uint8), GGMLType.BF16, (4,)),
                                  (top.astype(np.uint32) << 16).view(np.float32))


def test_unknown_tensor_name_is_a_key_error(tmp_path: Path) -> None:
    f = read_gguf(write_gguf(tmp_path / "t.gguf", [], [("a", (1,), 0, b"\0" * 4)]))
    with pytest.raises(KeyError, match="no tensor named 'b'"):
        f.tensor("b")


# ---- malformed files: each raises GGUFError naming the file and the problem --------------------

F32_TENSOR = [("w", (4,), 0, np.ones(4, np.float32).tobytes())]
MALFORMED = {
    "bad magic": (dict(magic=b"GGML"), r"not a GGUF file: magic is b'GGML'"),
    "version 1": (dict(version=1), r"unsupported GGUF version 1"),
    "version 4": (dict(version=4), r"unsupported GGUF version 4"),
    "big-endian": (dict(version=3 << 24), r"unsupported GGUF version \d+ \(a big-endian file\?\)"),
    "empty file": (dict(truncate_to=0), r"truncated: magic needs 4 bytes at offset 0"),
    "truncated header": (dict(truncate_to=10), r"truncated: tensor count needs 8 bytes"),
    "truncated key": (dict(truncate_to=40), r"truncated: metadata key #0 needs 12 bytes at offset 32, but the file has 40"),
    "truncated value": (dict(truncate_to=50), r"truncated: length of 'general.name' needs 8 bytes"),
    "truncated data": (dict(truncate_to=-8), r"tensor 'w' \(F32, 16 bytes at data offset 0\) runs past the end"),
    "offset past the end": (dict(offsets=[4096]), r"tensor 'w' .* runs past the end of the file"),
    "misaligned offset": (dict(offsets=[4]), r"offset 4 is not a multiple of the alignment 32"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_file_raises_clear_error(tmp_path: Path, case: str) -> None:
    kwargs, message = MALFORMED[case]
    path = tmp_path / "broken.gguf"
    meta = [("general.name", 8, "a tiny test model")]
    if kwargs.get("truncate_to", 0) < 0:  # negative: cut that many bytes off the end
        write_gguf(path, meta, F32_TENSOR)
        kwargs = dict(truncate_to=path.stat().st_size + kwargs["truncate_to"])
    write_gguf(path, meta, F32_TENSOR, **kwargs)
    with pytest.raises(GGUFError, match=message) as err:
        read_gguf(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize(("type_id", "name"), [(12, "Q4_K"), (99, "#99")])
def test_unsupported_tensor_type(tmp_path: Path, type_id: int, name: str) -> None:
    path = write_gguf(tmp_path / "q.gguf", [], [("w", (256,), type_id, b"\0" * 144)])
    with pytest.raises(GGUFError, match=rf"tensor 'w' has type {name}, which this reader cannot dequantise"):
        read_gguf(path)


def test_unknown_metadata_value_type(tmp_path: Path) -> None:
    path = tmp_path / "m.gguf"
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + _str("k") + struct.pack("<I", 13))
    with pytest.raises(GGUFError, match=r"unknown metadata value type 13 for 'k'"):
        read_gguf(path)


def test_row_not_a_multiple_of_the_block(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "q.gguf", [], [("w", (2, 16), 8, b"\0" * 68)])
    with pytest.raises(GGUFError, match=r"row length 16 is not a multiple of Q8_0's block of 32"):
        read_gguf(path)


def test_bad_alignment(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "a.gguf", [("general.alignment", 4, 24)], alignment=8)
    with pytest.raises(GGUFError, match=r"general.alignment must be a positive power of two, got 24"):
        read_gguf(path)


# ---- the real file ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def real(gguf: Any) -> tuple[Any, Any]:
    path = model_path("smollm2-135m-instruct")
    return read_gguf(path), gguf.GGUFReader(path)


def test_real_file_header_and_metadata(real: tuple[Any, Any]) -> None:
    ours, ref = real
    assert ours.version == 3 and ours.data_offset == ref.data_offset and len(ours.tensors) == len(ref.tensors) == 272
    assert ours.metadata["general.architecture"] == "llama"
    assert ours.metadata["llama.block_count"] == 30
    assert len(ours.metadata["tokenizer.ggml.tokens"]) == 49152
    assert len(ours.metadata["tokenizer.ggml.merges"]) == 48900
    for key, field in ref.fields.items():
        if key.startswith("GGUF."):
            continue
        contents = field.contents()
        expected = pytest.approx(contents) if isinstance(contents, float) else contents
        assert ours.metadata[key] == expected, key
    for t in ref.tensors:
        info = ours.tensors[t.name]
        assert info.offset == t.data_offset and info.n_bytes == t.n_bytes
        assert int(info.type) == int(t.tensor_type)


@pytest.mark.slow
def test_real_tensors_equal_gguf_package(real: tuple[Any, Any], gguf: Any) -> None:
    ours, ref = real
    by_type: dict[str, list[Any]] = {}
    for t in ref.tensors:
        by_type.setdefault(t.tensor_type.name, []).append(t)
    # every type the file uses, then a sample of the rest
    chosen = [ts[0] for ts in by_type.values()] + budget_sample(ref.tensors, 12)
    for t in chosen:
        expected = gguf.quants.dequantize(t.data, t.tensor_type)
        got = ours.tensor(t.name)
        assert got.dtype == np.float32 and got.shape == expected.shape, t.name
        np.testing.assert_array_equal(got, expected, err_msg=t.name)
