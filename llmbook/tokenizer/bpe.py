"""Byte-pair encoding of one pre-split piece, given a table of token ranks.

A vocabulary is a dict ``ranks: bytes -> int``. The rank is both the token id
and the merge priority: a lower rank was learned earlier, so it merges first.

Two implementations of one rule: :func:`encode_piece` is the readable loop, which
rescans every pair after each merge (time grows with the square of the piece's
length); :func:`encode_piece_fast` keeps the pairs in a heap (time ``n log n``).
:func:`bpe` picks the loop for short pieces, where it is faster, and the heap
for long ones. The tests check that all three give the same ids.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from heapq import heapify, heappop, heappush, heapreplace

NO_MERGE = sys.maxsize  # rank of a pair that is not in the vocabulary


# --8<-- [start:merge]
def encode_piece(piece: bytes, ranks: Mapping[bytes, int]) -> list[int]:
    """Token ids for ``piece``: merge the lowest-ranked adjacent pair until none is left.

    A piece that is itself a token is returned whole; ties between equal pairs
    go to the leftmost. Both rules are tiktoken's, so the ids are identical.
    """
    if piece in ranks:
        return [ranks[piece]]
    parts = [piece[i : i + 1] for i in range(len(piece))]
    # pair_ranks[i] = rank of parts[i] + parts[i + 1], kept in step with parts
    pair_ranks = [ranks.get(a + b, NO_MERGE) for a, b in zip(parts, parts[1:])]
    while pair_ranks:
        best = min(pair_ranks)
        if best == NO_MERGE:
            break
        i = pair_ranks.index(best)  # leftmost occurrence
        parts[i : i + 2] = [parts[i] + parts[i + 1]]
        del pair_ranks[i]
        if i > 0:
            pair_ranks[i - 1] = ranks.get(parts[i - 1] + parts[i], NO_MERGE)
        if i < len(pair_ranks):
            pair_ranks[i] = ranks.get(parts[i] + parts[i + 1], NO_MERGE)
    return [ranks[p] for p in parts]
# --8<-- [end:merge]


# --8<-- [start:merge_fast]
def encode_piece_fast(piece: bytes, ranks: Mapping[bytes, int]) -> list[int]:
    """The ids of :func:`encode_piece`, in time ``n log n`` for a piece of ``n`` bytes.

    The parts are a linked list over byte positions: the part starting at byte ``i``
    ends where the next one starts, at ``nxt[i]``. ``pair[i]`` is the rank of the
    part at ``i`` joined with its right neighbour (``None``: not a token). A heap holds
    ``(rank, i)`` for every pair ever formed, packed in one int (``rank << shift | i``),
    so it pops the lowest rank and, among equal ranks, the leftmost pair: the loop's
    order exactly. A merge changes two pairs; their old heap entries are left in
    place and skipped when popped, because ``pair[i]`` no longer holds their rank
    (ranks are distinct ints >= 0, as in a ``Tokenizer``: a changed pair has another).
    """
    if piece in ranks:
        return [ranks[piece]]
    get = ranks.get
    n = len(piece)
    shift = n.bit_length()
    mask = (1 << shift) - 1
    nxt = list(range(1, n + 1))  # the part starting at i is piece[i:nxt[i]]
    prv = list(range(-1, n - 1))  # ... and its left neighbour starts at prv[i]
    pair = [get(piece[i : i + 2]) for i in range(n - 1)] + [None]
    heap = [r << shift | i for i, r in enumerate(pair) if r is not None]
    heapify(heap)
    while heap:
        i = heap[0] & mask
        if pair[i] != heap[0] >> shift:  # stale: that pair was merged away or changed
            heappop(heap)
            continue
        j = nxt[i]  # merge the parts at i and j
        k = nxt[i] = nxt[j]
        pair[j] = None
        rank = pair[i] = get(piece[i : nxt[k]]) if k < n else None  # the merged part + its right neighbour
        if k < n:
            prv[k] = i
        if rank is None:
            heappop(heap)
        else:
            heapreplace(heap, rank << shift | i)  # pop and push in one sift
        if (p := prv[i]) >= 0:  # the left neighbour + the merged part
            rank = pair[p] = get(piece[p:k])
            if rank is not None:
                heappush(heap, rank << shift | p)
    out = []
    i = 0
    while i < n:
        out.append(ranks[piece[i : nxt[i]]])
        i = nxt[i]
    return out
# --8<-- [end:merge_fast]


SHORT_PIECE = 16  # bytes; below this the loop is as fast as the heap or faster (examples/bench_tokenizer.py)


def bpe(piece: bytes, ranks: Mapping[bytes, int]) -> list[int]:
    """Token ids for ``piece``: :func:`encode_piece` if it is short, else :func:`encode_piece_fast`."""
    return encode_piece(piece, ranks) if len(piece) < SHORT_PIECE else encode_piece_fast(piece, ranks)


def merge_pair(ids: Sequence[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """Replace every non-overlapping occurrence of ``pair`` in ``ids`` (left to right) by ``new_id``."""
    out: list[int] = []
    i = 0
    while i < len(ids):
        if i + 1 < len(ids) and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out
