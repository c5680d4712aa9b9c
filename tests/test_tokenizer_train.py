"""Training: the incremental trainer equals a plain recount-everything trainer, and is deterministic."""

from __future__ import annotations

from collections import Counter

import pytest

from llmbook import tokenizer
from tools.corpus import stdlib_text
from llmbook.tokenizer.bpe import merge_pair
from llmbook.tokenizer.train import count_pieces, learn_merges, ranks_from_learned_merges


def naive_merges(piece_counts: dict[bytes, int], n_merges: int) -> list[tuple[int, int]]:
    """The textbook trainer: recount every pair after every merge (slow, obviously right)."""
    words = {tuple(p): n for p, n in piece_counts.items()}
    merges = []
    for k in range(n_merges):
        counts: Counter[tuple[int, int]] = Counter()
        for word, n in words.items():
            for pair in zip(word, word[1:]):
                counts[pair] += n
        if not counts:
            break
        best = min(counts, key=lambda p: (-counts[p], p))  # most frequent, then smallest pair
        merges.append(best)
        words = {tuple(merge_pair(w, best, 256 + k)): n for w, n in words.items()}
    return merges


@pytest.fixture(scope="module")
def sample_text() -> str:
    return stdlib_text(limit=200_000)


def test_incremental_equals_naive(sample_text):
    counts = count_pieces([sample_text], tokenizer.CL100K_PATTERN)
    assert learn_merges(counts, 120, progress=False) == naive_merges(counts, 120)


def test_tiny_example_step_by_step():
    counts = {b"aaab": 1, b"ab": 3}
    merges = learn_merges(counts, 3, progress=False)
    # (a,b) occurs 4 times, (a,a) 2 times; then a+(ab) once, (a,a) once: tie -> smallest pair (97, 97)
    assert merges == [(97, 98), (97, 97), (257, 256)]
    assert ranks_from_learned_merges(merges)[b"aaab"] == 258
    assert learn_merges({b"ab": 1}, 5, progress=False) == [(97, 98)]  # runs out of pairs


def test_train_is_deterministic_and_round_trips(sample_text, tmp_path):
    kwargs = dict(vocab_size=600, special_tokens=["<|endoftext|>"], progress=False)
    a = tokenizer.train(sample_text, **kwargs)
    b = tokenizer.train(sample_text, **kwargs)
    assert dict(a.ranks) == dict(b.ranks)
    assert a.vocab_size == 600 and a.special_tokens["<|endoftext|>"] == 599
    text = "def __init__(self):\n    return None  # <|endoftext|> 😀"
    ids = a.encode(text, allowed_special="all")
    assert a.decode(ids) == text and 599 in ids
    assert len(ids) < len(text.encode()) / 2  # it did learn to compress code
    a.save(tmp_path / "t.json")
    c = tokenizer.load(tmp_path / "t.json")
    assert dict(c.ranks) == dict(a.ranks) and c.encode(text, allowed_special="all") == ids
    assert c.pattern == a.pattern and c.name == "trained"


def test_train_inputs_and_errors(sample_text, tmp_path):
    path = tmp_path / "x.py"
    path.write_bytes(sample_text[:50_000].encode())
    from_file = tokenizer.train(path, 300, progress=False)
    from_text = tokenizer.train([sample_text[:50_000]], 300, progress=False)
    assert dict(from_file.ranks) == dict(from_text.ranks)
    with pytest.raises(ValueError, match="below 256"):
        tokenizer.train("abc", 256, special_tokens=["<|x|>"])
    # special tokens are cut out before counting: no merge learns their spelling
    t = tokenizer.train("<|endoftext|>" * 50 + " hello" * 3, 270, special_tokens=["<|endoftext|>"], progress=False)
    assert not any(b"|>" in tok for tok in t.ranks)
