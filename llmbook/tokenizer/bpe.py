"""Byte-pair encoding of one pre-split piece, given a table of token ranks.

A vocabulary is a dict ``ranks: bytes -> int``. The rank is both the token id
and the merge priority: a lower rank was learned earlier, so it merges first.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence

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


# --8<-- [start:merge_pair]
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
# --8<-- [end:merge_pair]
