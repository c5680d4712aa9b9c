"""Learning a byte-level BPE vocabulary from text.

Start from the 256 single bytes. Count every adjacent pair of tokens inside
each pre-split piece, merge the most frequent pair into a new token, repeat.

Two things make this fast enough for 30 MB of text in pure Python:

1. Identical pieces are counted once: the corpus becomes a table
   ``piece -> how often it occurs`` (a few hundred thousand distinct pieces).
2. Counts are updated, not recomputed: merging a pair only changes the pieces
   that contain it, so only those are visited (an index ``pair -> pieces`` finds
   them), and a heap finds the next most frequent pair.

Ties are broken by a fixed rule, so training is deterministic: among pairs with
the highest count, the one with the smallest ``(left id, right id)`` wins.
"""

from __future__ import annotations

import heapq
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from os import PathLike
from pathlib import Path

from tqdm import tqdm  # plain text bar: tqdm.auto wants ipywidgets inside notebooks

from llmbook.tokenizer.bpe import merge_pair
from llmbook.tokenizer.core import Tokenizer, _special_regex
from llmbook.tokenizer.pretokenize import CL100K_PATTERN, splitter

Pair = tuple[int, int]


def _texts(text_or_files: str | PathLike[str] | Iterable[str | PathLike[str]]) -> Iterable[str]:
    """A ``str`` is text; a path is a file (read as UTF-8); an iterable may mix both."""
    items = [text_or_files] if isinstance(text_or_files, (str, PathLike)) else text_or_files
    for item in items:
        yield item if isinstance(item, str) else Path(item).read_bytes().decode("utf-8")


def count_pieces(texts: Iterable[str], pattern: str, special_tokens: Sequence[str] = ()) -> Counter[bytes]:
    """How often each pre-split piece occurs, as UTF-8 bytes; special tokens are cut out first."""
    split = splitter(pattern).split
    counts: Counter[str] = Counter()
    for text in texts:
        segments = _special_regex(frozenset(special_tokens)).split(text) if special_tokens else [text]
        for segment in segments:
            counts.update(split(segment))
    return Counter({piece.encode("utf-8"): n for piece, n in counts.items()})


# --8<-- [start:train]
def learn_merges(piece_counts: dict[bytes, int], n_merges: int, progress: bool = True) -> list[Pair]:
    """The first ``n_merges`` merges BPE learns from ``piece_counts``; merge ``m`` makes token ``256 + m``."""
    words = [list(piece) for piece in piece_counts]  # each piece as token ids, bytes to start with
    freq = list(piece_counts.values())
    pair_count: defaultdict[Pair, int] = defaultdict(int)
    where: defaultdict[Pair, set[int]] = defaultdict(set)  # pair -> pieces that (may) contain it
    for w, word in enumerate(words):
        for pair in zip(word, word[1:]):
            pair_count[pair] += freq[w]
            where[pair].add(w)
    heap = [(-n, pair) for pair, n in pair_count.items()]  # max count first, then smallest pair
    heapq.heapify(heap)
    merges: list[Pair] = []
    with tqdm(total=n_merges, desc="BPE merges", unit="merge", disable=not progress) as bar:
        while len(merges) < n_merges and heap:
            neg, pair = heapq.heappop(heap)
            if pair_count.get(pair, 0) != -neg or neg == 0:
                continue  # stale heap entry: the count changed since it was pushed
            new_id = 256 + len(merges)
            merges.append(pair)
            changed: set[Pair] = set()
            for w in where.pop(pair):  # only the pieces that contain the pair
                word, n = words[w], freq[w]
                merged = merge_pair(word, pair, new_id)
                if len(merged) == len(word):
                    continue  # the index was stale for this piece
                for old in zip(word, word[1:]):
                    pair_count[old] -= n
                    changed.add(old)
                for new in zip(merged, merged[1:]):
                    pair_count[new] += n
                    changed.add(new)
                    where[new].add(w)
                words[w] = merged
            for p in changed:
                if pair_count[p] > 0:
                    heapq.heappush(heap, (-pair_count[p], p))
                else:
                    del pair_count[p]
            bar.update()
    return merges
# --8<-- [end:train]


def ranks_from_learned_merges(merges: Iterable[Pair]) -> dict[bytes, int]:
    """Token bytes -> id: the 256 bytes, then one token per merge."""
    vocab = [bytes([b]) for b in range(256)]
    for left, right in merges:
        vocab.append(vocab[left] + vocab[right])
    return {token: i for i, token in enumerate(vocab)}


def train(
    text_or_files: str | PathLike[str] | Iterable[str | PathLike[str]],
    vocab_size: int,
    *,
    pattern: str = CL100K_PATTERN,
    special_tokens: Sequence[str] = (),
    name: str = "trained",
    progress: bool = True,
) -> Tokenizer:
    """Train a byte-level BPE tokenizer with ``vocab_size`` ids in all.

    ``vocab_size`` counts the 256 bytes, the learned merges and the special
    tokens, which get the last ids. Strings are text and paths are files. If the
    text runs out of pairs first, the vocabulary is smaller.
    """
    n_merges = vocab_size - 256 - len(special_tokens)
    if n_merges < 0:
        raise ValueError(f"vocab_size {vocab_size} is below 256 bytes + {len(special_tokens)} special tokens")
    piece_counts = count_pieces(_texts(text_or_files), pattern, special_tokens)
    merges = learn_merges(piece_counts, n_merges, progress=progress)
    ranks = ranks_from_learned_merges(merges)
    specials = {token: len(ranks) + k for k, token in enumerate(special_tokens)}
    return Tokenizer(ranks, pattern, specials, name=name)
