"""Sets of document numbers as Python integers: bit n set = document n is in the set.

Facet counting is then an AND and a popcount per facet value, a few microseconds
even at 100,000 documents, instead of a pass over the matching documents.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

# For each byte value, the positions of its set bits.
_BITS = [tuple(bit for bit in range(8) if byte >> bit & 1) for byte in range(256)]


def from_ids(ids: Iterable[int], size: int) -> int:
    buffer = bytearray((size >> 3) + 1)
    for doc in ids:
        buffer[doc >> 3] |= 1 << (doc & 7)
    return int.from_bytes(buffer, "little")


def ids(bitmap: int) -> Iterator[int]:
    """The set bits in ascending order."""
    data = bitmap.to_bytes((bitmap.bit_length() + 7) // 8 or 1, "little")
    for index, byte in enumerate(data):
        if byte:
            base = index << 3
            for bit in _BITS[byte]:
                yield base + bit


def count(bitmap: int) -> int:
    return bitmap.bit_count()
